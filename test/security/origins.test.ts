/**
 * Cross-site WebSocket hijacking and its relatives, over real sockets: a page of another site must not
 * open connections in a user's browser (WebSocket: HTTP 403; SSE stream and commands: 403), origins
 * that merely look like an allowed one are refused, and the dashboard's session cookie sent from any
 * page but the dashboard's own gives no dashboard identity — not on connections, not on the API, not
 * for the demo's tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { SseStream } from '../helpers/sse.ts';
import { errorOf, handshakeStatus } from './helpers.ts';

const ADMIN_PASSWORD = 'correct-horse-battery-staple';
const ALLOWED = 'https://app.example';
let herald: TestHerald;
let cookie: string;
beforeAll(async () => {
  herald = await startTestHerald({ adminPassword: ADMIN_PASSWORD, allowedOrigins: [ALLOWED] });
  const response = await fetch(`${herald.url}/dashboard/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secret: ADMIN_PASSWORD }),
  });
  cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
});
afterAll(() => herald.close());

/** Origins a hostile page could have: none is allowed, whatever it resembles. */
function foreignOrigins(): string[] {
  const { port } = new URL(herald.url);
  return [
    'https://evil.example',
    'https://app.example.evil.example',
    'https://evilapp.example',
    'http://app.example',
    'https://app.example:8443',
    'https://app.example.',
    'null',
    'file://',
    `http://localhost:${port}`,
    `http://127.0.0.1:${Number(port) + 1}`,
    'not a url',
  ];
}

describe('WebSocket from a foreign origin', () => {
  it('refuses the handshake with 403 for every foreign origin, with or without credentials', async () => {
    for (const origin of foreignOrigins()) {
      expect(await handshakeStatus(herald.wsUrl, { origin }), origin).toBe(403);
      expect(await handshakeStatus(herald.wsUrl, { origin, headers: { cookie } }), origin).toBe(403);
    }
  });

  it('accepts the allowed origin, its own origin and clients that send none', async () => {
    expect(await handshakeStatus(herald.wsUrl, { origin: ALLOWED })).toBe(101);
    expect(await handshakeStatus(herald.wsUrl, { origin: herald.url })).toBe(101);
    expect(await handshakeStatus(herald.wsUrl)).toBe(101);
  });
});

describe('SSE from a foreign origin', () => {
  it('refuses the stream with 403 and no CORS header', async () => {
    const token = await herald.token();
    for (const origin of foreignOrigins()) {
      const response = await fetch(`${herald.url}/connection/sse?token=${token}&channel=chat:a`, {
        headers: { origin, cookie },
      });
      expect(response.status, origin).toBe(403);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(await response.json()).toMatchObject({ error: { code: 'HERALD_ERR_PERMISSION_DENIED' } });
    }
  });

  it("refuses commands POSTed from a foreign origin, even with the session's id and key", async () => {
    const stream = await SseStream.open(`${herald.url}/connection/sse?token=${await herald.token()}`);
    await waitFor(() => stream.events.some((event) => event.event === 'session'), 3000, 'the session');
    const { client, key } = JSON.parse(stream.events[0]?.data ?? '{}') as { client: string; key: string };
    const post = (origin: string | undefined) =>
      fetch(`${herald.url}/connection/sse/commands?client=${client}&key=${key}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', ...(origin === undefined ? {} : { origin }) },
        body: '{"id":5,"subscribe":{"channel":"chat:a"}}',
      });
    expect((await post('https://evil.example')).status).toBe(403);
    expect(stream.messages().some((message) => message['id'] === 5)).toBe(false);
    expect((await post(ALLOWED)).status).toBe(202);
    await waitFor(() => stream.messages().some((message) => message['id'] === 5), 3000, 'the reply');
    stream.close();
  });
});

describe("the dashboard's cookie from another page", () => {
  it('is not the dashboard on a WebSocket from an allowed foreign origin or a sibling site', async () => {
    const variants: Record<string, string>[] = [
      { cookie },
      { cookie, 'sec-fetch-site': 'same-site' },
      { cookie, 'sec-fetch-site': 'cross-site' },
    ];
    const origins = [ALLOWED, undefined, undefined];
    for (const [i, headers] of variants.entries()) {
      const origin = origins[i];
      const client = await ProtocolClient.open(herald.wsUrl, {
        headers,
        ...(origin === undefined ? {} : { origin }),
      });
      expect((await errorOf(client.call('connect', {}))).code).toBe(ErrorCode.UNAUTHORIZED);
      expect((await client.closed).code).toBe(DisconnectCode.UNAUTHORIZED);
    }
  });

  it('is not the dashboard on an SSE stream from an allowed foreign origin', async () => {
    const stream = await SseStream.open(`${herald.url}/connection/sse?channel=${'$herald:stats'}`, {
      cookie,
      origin: ALLOWED,
    });
    await waitFor(() => stream.closed, 3000, 'the stream to end');
    expect(stream.messages()[0]).toMatchObject({ id: 1, error: { code: ErrorCode.UNAUTHORIZED } });
    expect(stream.messages().some((message) => message['id'] === 2)).toBe(false);
  });

  it('opens no server API call from another origin or site', async () => {
    const dashboardHeaders = { cookie, 'x-herald-dashboard': '1' };
    const own = await fetch(`${herald.url}/api/info`, {
      headers: { ...dashboardHeaders, origin: herald.url, 'sec-fetch-site': 'same-origin' },
    });
    expect(own.status).toBe(200);
    const foreign: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { origin: ALLOWED },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of foreign) {
      const response = await fetch(`${herald.url}/api/info`, {
        headers: { ...dashboardHeaders, ...headers },
      });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      const publish = await fetch(`${herald.url}/api/publish`, {
        method: 'POST',
        headers: { ...dashboardHeaders, ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:a', data: 'forged' }),
      });
      expect(publish.status, JSON.stringify(headers)).toBe(401);
    }
  });

  it('mints no demo token for another origin or site', async () => {
    const mint = (headers: Record<string, string>) =>
      fetch(`${herald.url}/demo/api/token`, {
        method: 'POST',
        headers: { cookie, 'x-herald-dashboard': '1', 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'Ann' }),
      });
    expect((await mint({ origin: herald.url })).status).toBe(200);
    expect((await mint({ origin: 'https://evil.example' })).status).toBe(401);
    expect((await mint({ origin: ALLOWED })).status).toBe(401);
    expect((await mint({ 'sec-fetch-site': 'same-site' })).status).toBe(401);
  });
});
