/**
 * The requests the HTTP fuzzer makes of each operation of the OpenAPI document: a valid one, then
 * missing or garbled Authorization headers, other methods and paths, invalid query parameters and
 * (body-cases.ts) invalid bodies; and unknown paths and malformed HTTP.
 */
import { bodyCases } from './body-cases.ts';
import { JSON_TYPE, type Case } from './http-answers.ts';
import type { RawRequest } from './http-client.ts';
import type { Rng } from './prng.ts';
import { percentEncoded, validValue, type Operation, type Parameter } from './schema-values.ts';

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

export function operationCases(
  operation: Operation,
  auth: string,
  cookie: string,
  rng: Rng,
  rounds: number,
): Case[] {
  const cases: Case[] = [];
  const name = `${operation.method} ${operation.path}`;
  const add = (what: string, request: RawRequest, expect: Case['expect'] = '4xx') =>
    cases.push({ area: 'api', name: `${name}: ${what}`, request, expect });
  const query = validQuery(operation);
  const target = query === '' ? operation.path : `${operation.path}?${query}`;
  const baseBody = operation.body === undefined ? undefined : JSON.stringify(validValue(operation.body));
  const valid = (headers: string[]): RawRequest => ({
    method: operation.method,
    target,
    headers: baseBody === undefined ? headers : [...headers, JSON_TYPE],
    ...(baseBody === undefined ? {} : { body: baseBody }),
  });
  add('valid request', valid([auth]), '2xx');

  if (operation.secured) {
    const authHeaders: [string, string[]][] = [
      ['no Authorization', []],
      ['Bearer scheme', ['Authorization: Bearer abc']],
      ['Basic scheme', ['Authorization: Basic dXNlcjpwYXNz']],
      ['apikey without key', ['Authorization: apikey']],
      ['apikey and spaces', ['Authorization: apikey    ']],
      ['wrong key', ['Authorization: apikey wrong-key']],
      ['key with a suffix', [`${auth}x`]],
      ['blank header', ['Authorization: ']],
      ['latin-1 bytes', ['Authorization: apikey \xff\xfe\xe9']],
      ['8 KiB key', [`Authorization: apikey ${'k'.repeat(8192)}`]],
      ['dashboard header without cookie', ['X-Herald-Dashboard: 1']],
      [
        'dashboard header with a forged cookie',
        ['X-Herald-Dashboard: 1', 'Cookie: herald_dashboard=99999999999999.abc'],
      ],
      ['dashboard cookie without header', [`Cookie: ${cookie}`]],
      ['dashboard cookie with header 2', ['X-Herald-Dashboard: 2', `Cookie: ${cookie}`]],
    ];
    for (const [what, headers] of authHeaders) add(what, valid(headers));
  }
  for (const method of OTHER_METHODS) {
    if (method !== operation.method)
      add(`method ${method}`, { method, target: operation.path, headers: [auth] });
  }
  add('method HEAD', { method: 'HEAD', target: operation.path, headers: [auth] }, 'any');
  for (const path of [
    `${operation.path}/`,
    operation.path.replace('/api/', '/api//'),
    `${operation.path}/x`,
    `${operation.path}%00`,
  ]) {
    add(`path ${path}`, { method: operation.method, target: path, headers: [auth] });
  }
  add('header overflow', valid([auth, `X-Fill: ${'f'.repeat(20_000)}`]));
  if (operation.query.length > 0) cases.push(...queryCases(operation, auth, rng, rounds));
  if (operation.body !== undefined)
    cases.push(...bodyCases(operation, operation.body, auth, target, rng, rounds));
  return cases;
}

function validQuery(operation: Operation): string {
  return operation.query
    .filter((parameter) => parameter.required === true)
    .map(
      (parameter) =>
        `${parameter.name}=${encodeURIComponent(String(parameter.example ?? validValue(parameter.schema, parameter.name)))}`,
    )
    .join('&');
}

function queryCases(operation: Operation, auth: string, rng: Rng, rounds: number): Case[] {
  const cases: Case[] = [];
  const base = validQuery(operation);
  const add = (what: string, query: string, expect: Case['expect'] = '4xx') =>
    cases.push({
      area: 'api',
      name: `${operation.method} ${operation.path}: query ${what}`,
      request: { method: operation.method, target: `${operation.path}?${query}`, headers: [auth] },
      expect,
    });
  const join = (...parts: string[]) => parts.filter((part) => part !== '').join('&');
  add('unknown parameter', join(base, 'nope=1'));
  add('bracket parameter', join(base, 'channel[]=x'));
  for (const parameter of operation.query) {
    const others = operation.query
      .filter((other) => other !== parameter && other.required === true)
      .map(
        (other) =>
          `${other.name}=${encodeURIComponent(String(other.example ?? validValue(other.schema, other.name)))}`,
      )
      .join('&');
    if (parameter.required === true) add(`without ${parameter.name}`, others);
    add(`${parameter.name} twice`, join(others, `${parameter.name}=a`, `${parameter.name}=b`));
    for (const value of invalidQueryValues(parameter))
      add(`${parameter.name}=${value.slice(0, 40)}`, join(others, `${parameter.name}=${value}`));
    // Ajv's coercion reads these as numbers (16, 0, 3, 100): odd, but not harmful.
    const odd =
      parameter.schema.type === 'integer'
        ? ['0x10', '%20', '0b11', '1e2', ...oddQueryValues()]
        : oddQueryValues();
    for (const value of odd)
      add(`${parameter.name}=${value.slice(0, 40)}`, join(others, `${parameter.name}=${value}`), 'any');
  }
  for (let i = 0; i < rounds; i++) {
    const parameter = rng.pick(operation.query);
    const value = percentEncoded(rng.unicode(rng.range(1, 300)));
    const others = base
      .split('&')
      .filter((part) => !part.startsWith(`${parameter.name}=`))
      .join('&');
    add(`${parameter.name} random #${i}`, join(others, `${parameter.name}=${value}`), 'any');
  }
  return cases;
}

/** Values that break the parameter's schema. */
function invalidQueryValues(parameter: Parameter): string[] {
  const { schema } = parameter;
  switch (schema.type) {
    case 'integer':
      return [
        'abc',
        '-1',
        '1.5',
        '1e999',
        'Infinity',
        '99999999999999999999',
        'NaN',
        ...(schema.maximum !== undefined ? [String(schema.maximum + 1)] : []),
      ];
    case 'boolean':
      return ['maybe', '2', 'yes%00'];
    case 'string': {
      const out = [`${'x'.repeat((schema.maxLength ?? 300) + 1)}`];
      if ((schema.minLength ?? 0) > 0) out.push('');
      if (parameter.name === 'channel')
        out.push('bad%20channel!', '', 'chat:%ED%A0%80', 'a'.repeat(256), 'chat%3A*');
      return out;
    }
    default:
      return [];
  }
}

/** Values that may or may not be valid: the answer must only not be a failure. */
function oddQueryValues(): string[] {
  return [
    '%zz',
    '%',
    '%E0%A4%A',
    encodeURIComponent('\u0000'),
    encodeURIComponent('ü'),
    '+',
    '%2B',
    ';',
    'a=b=c',
  ];
}

/** Unknown paths under /api and malformed HTTP. */
export function globalCases(auth: string): Case[] {
  const cases: Case[] = [];
  const add = (name: string, request: RawRequest) =>
    cases.push({ area: 'api', name, request, expect: '4xx' });
  for (const path of [
    '/api',
    '/api/',
    '/api/nope',
    '/api/%zz',
    '/api/..%2fhealthz',
    `/api/${'x'.repeat(8000)}`,
    '/api/publish%2Fbatch',
    '/api/openapi.json/x',
  ]) {
    add(`unknown path ${path.slice(0, 40)}`, { method: 'GET', target: path, headers: [auth] });
  }
  const raw = (name: string, text: string) =>
    cases.push({
      area: 'http',
      name: `malformed HTTP: ${name}`,
      request: { method: 'RAW', target: text },
      expect: '4xx',
    });
  const head = `POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n${JSON_TYPE}\r\n`;
  raw('bad chunk size', `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
  raw(
    'length and chunked',
    `${head}Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
  );
  raw('negative length', `${head}Content-Length: -1\r\n\r\n{}`);
  raw('non-numeric length', `${head}Content-Length: abc\r\n\r\n{}`);
  raw('two lengths', `${head}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`);
  raw('header without colon', `${head}Broken header\r\nContent-Length: 2\r\n\r\n{}`);
  raw('NUL in a header', `${head}X-Null: a\u0000b\r\nContent-Length: 2\r\n\r\n{}`);
  raw('HTTP/9.9', 'GET /api/info HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n');
  raw('space in the target', `GET /api/info x HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n\r\n`);
  raw('lowercase method', `get /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n\r\n`);
  raw('unknown method', `BREW /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n\r\n`);
  raw(
    'header overflow',
    `GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: ${'f'.repeat(20_000)}\r\n\r\n`,
  );
  raw('obsolete line folding', `GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n x\r\n\r\n`);
  return cases;
}
