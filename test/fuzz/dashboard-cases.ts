/** Requests to the dashboard's routes and the SSE endpoints that the HTTP fuzzer makes. */
import { JSON_TYPE, type ApiFuzzOptions, type Case } from './http-answers.ts';
import type { RawRequest } from './http-client.ts';
import type { Rng } from './prng.ts';

export function dashboardCases(cookie: string, rng: Rng): Case[] {
  const cases: Case[] = [];
  const add = (name: string, request: RawRequest, expect: Case['expect'] = '4xx') =>
    cases.push({ area: 'dashboard', name, request, expect });
  const session = '/dashboard/api/session';
  add('GET session without cookie', { method: 'GET', target: session });
  for (const value of [
    'abc',
    '1.2',
    '99999999999999999999.x',
    '.',
    '',
    `${Date.now() + 1e6}.${'a'.repeat(43)}`,
    'ü',
    'x'.repeat(4000),
  ]) {
    add(`GET session with cookie ${value.slice(0, 30)}`, {
      method: 'GET',
      target: session,
      headers: [`Cookie: herald_dashboard=${value}`],
    });
  }
  add(
    'GET session with a valid cookie',
    { method: 'GET', target: session, headers: [`Cookie: ${cookie}`] },
    '2xx',
  );
  const signIns: [string, string[], string | Buffer][] = [
    ['invalid JSON', [JSON_TYPE], '{"secret":'],
    ['empty JSON body', [JSON_TYPE], ''],
    ['array', [JSON_TYPE], '[]'],
    ['null', [JSON_TYPE], 'null'],
    ['string', [JSON_TYPE], '"secret"'],
    ['number secret', [JSON_TYPE], '{"secret":1}'],
    ['empty secret', [JSON_TYPE], '{"secret":""}'],
    ['no secret', [JSON_TYPE], '{}'],
    ['__proto__ secret', [JSON_TYPE], '{"__proto__":{"secret":"x"}}'],
    ['deep body', [JSON_TYPE], `{"secret":${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
    ['wrong secret', [JSON_TYPE], '{"secret":"wrong"}'],
    ['text/plain', ['Content-Type: text/plain'], 'secret'],
    ['form', ['Content-Type: application/x-www-form-urlencoded'], 'secret=x'],
    ['no content-type', [], '{"secret":"x"}'],
    ['xml', ['Content-Type: application/xml'], '<secret/>'],
    ['over 1 MiB', [JSON_TYPE], `{"secret":"${'s'.repeat(1.1 * 1024 * 1024)}"}`],
    ['invalid UTF-8', [JSON_TYPE], Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])],
  ];
  add('POST session: declared over 1 MiB', {
    method: 'POST',
    target: session,
    headers: [JSON_TYPE],
    body: '{"secret":"',
    declaredLength: 1024 * 1024 + 1,
  });
  for (const [what, headers, body] of signIns)
    add(`POST session: ${what}`, { method: 'POST', target: session, headers, body });
  for (let i = 0; i < 10; i++) {
    add(`POST session: random secret #${i}`, {
      method: 'POST',
      target: session,
      headers: [JSON_TYPE],
      body: JSON.stringify({ secret: rng.unicode(rng.range(1, 100)) }),
    });
  }
  add('DELETE session', { method: 'DELETE', target: session }, '2xx');
  for (const method of ['PUT', 'PATCH']) add(`${method} session`, { method, target: session });
  const token = '/demo/api/token';
  const signedIn = [`Cookie: ${cookie}`, 'X-Herald-Dashboard: 1', JSON_TYPE];
  add('demo token without sign-in', {
    method: 'POST',
    target: token,
    headers: [JSON_TYPE],
    body: '{"name":"ann"}',
  });
  add('demo token without the header', {
    method: 'POST',
    target: token,
    headers: [`Cookie: ${cookie}`, JSON_TYPE],
    body: '{"name":"ann"}',
  });
  add('demo token', { method: 'POST', target: token, headers: signedIn, body: '{"name":"ann"}' }, '2xx');
  for (const body of [
    '{"name":""}',
    '{"name":1}',
    '{"name":"' + 'n'.repeat(33) + '"}',
    '{"name":"a\\u0000b"}',
    '{}',
    '[]',
    'null',
    '{"name":',
    '',
  ]) {
    add(`demo token with body ${body.slice(0, 30)}`, {
      method: 'POST',
      target: token,
      headers: signedIn,
      body,
    });
  }
  add('demo token as text/plain', {
    method: 'POST',
    target: token,
    headers: [`Cookie: ${cookie}`, 'X-Herald-Dashboard: 1', 'Content-Type: text/plain'],
    body: 'ann',
  });
  add('GET demo token', { method: 'GET', target: token, headers: signedIn });
  return cases;
}

/** Requests to the SSE endpoints that must be refused before a stream opens. */
export function sseRequestCases(options: ApiFuzzOptions): Case[] {
  const cases: Case[] = [];
  const add = (name: string, request: RawRequest) =>
    cases.push({ area: 'sse', name, request, expect: '4xx' });
  const stream = '/connection/sse';
  add('stream with Basic auth', { method: 'GET', target: stream, headers: ['Authorization: Basic abc'] });
  add('stream with an empty Bearer', { method: 'GET', target: stream, headers: ['Authorization: Bearer '] });
  add('stream with two commands', { method: 'GET', target: `${stream}?commands=a&commands=b` });
  add('stream with a bad since', { method: 'GET', target: `${stream}?since=nope` });
  add('stream with since of the wrong shape', {
    method: 'GET',
    target: `${stream}?since=${encodeURIComponent('{"chat:a":[1]}')}`,
  });
  add('stream with a bad Last-Event-ID', {
    method: 'GET',
    target: stream,
    headers: ['Last-Event-ID: [1,2]'],
  });
  add('stream from a foreign origin', {
    method: 'GET',
    target: stream,
    headers: ['Origin: https://evil.example'],
  });
  add('stream with commands over the header limit', {
    method: 'GET',
    target: `${stream}?commands=${'c'.repeat(20_000)}`,
  });
  add('POST to the stream', { method: 'POST', target: stream, headers: [JSON_TYPE], body: '{}' });
  const commands = '/connection/sse/commands';
  add('commands without a session', {
    method: 'POST',
    target: commands,
    headers: ['Content-Type: text/plain'],
    body: '{"id":1,"ping":{}}',
  });
  add('commands for an unknown session', {
    method: 'POST',
    target: `${commands}?client=nope&key=nope`,
    headers: ['Content-Type: text/plain'],
    body: '{}',
  });
  add('commands with two clients', {
    method: 'POST',
    target: `${commands}?client=a&client=b&key=k`,
    headers: ['Content-Type: text/plain'],
    body: '{}',
  });
  add('commands over the frame limit', {
    method: 'POST',
    target: `${commands}?client=a&key=k`,
    headers: ['Content-Type: text/plain'],
    body: 'x'.repeat(options.maxFrameBytes + 1),
  });
  add('GET commands', { method: 'GET', target: commands });
  return cases;
}
