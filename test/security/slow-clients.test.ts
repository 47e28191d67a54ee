/**
 * Slowloris-style clients over raw TCP: headers sent a byte at a time, a connection that sends
 * nothing, a body that trickles in. Each holds a socket and a parser for as long as the server lets
 * it, so the server must cut it off — after `headersTimeout` for the headers, `requestTimeout` for the
 * whole request — while it goes on serving everyone else. Connections that are meant to last (an
 * upgraded WebSocket, an SSE stream) are not touched by either timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { CONFIG_DEFAULTS } from '../../src/config/load.ts';
import { TEST_API_KEY } from '../helpers/config.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { SseStream } from '../helpers/sse.ts';
import { collectUntilClosed, rawSocket, sleep } from './helpers.ts';

const HEADERS_TIMEOUT_MS = 600;
const REQUEST_TIMEOUT_MS = 1200;
/** Node checks its timeouts periodically; Herald checks at least every quarter of the shorter one. */
const SLACK_MS = 1500;

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald({
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
});
afterAll(() => herald.close());

/** Writes `text` one byte every `everyMs` until the socket closes; resolves with the bytes sent. */
async function trickle(socket: Socket, text: string, everyMs: number): Promise<number> {
  let sent = 0;
  for (const char of text) {
    if (socket.destroyed || !socket.writable) break;
    socket.write(char);
    sent++;
    await sleep(everyMs);
  }
  return sent;
}

/** The server answered a timed-out request with 408 and its error body, then closed the connection. */
function expectTimedOut(text: string): void {
  expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({
    error: { code: 'HERALD_ERR_REQUEST_TIMEOUT', wireCode: 124 },
  });
}

/** How long a plain request takes right now, ms. */
async function healthMs(): Promise<number> {
  const start = performance.now();
  const response = await fetch(`${herald.url}/healthz`);
  expect(response.status).toBe(200);
  return performance.now() - start;
}

describe('the HTTP server timeouts', () => {
  it('default to 10 s for headers and 30 s for a whole request, checked every second', async () => {
    expect(CONFIG_DEFAULTS.headersTimeoutMs).toBe(10_000);
    expect(CONFIG_DEFAULTS.requestTimeoutMs).toBe(30_000);
    const defaults = await startTestHerald();
    try {
      expect(defaults.app.server.headersTimeout).toBe(10_000);
      expect(defaults.app.server.requestTimeout).toBe(30_000);
    } finally {
      await defaults.close();
    }
  });
});

describe('slow headers', () => {
  it('closes a client sending its headers a byte every 200 ms, at the headers timeout', async () => {
    const socket = await rawSocket(herald.port);
    const closed = collectUntilClosed(socket);
    const opened = Date.now();
    void trickle(socket, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(1000)}\r\n\r\n`, 200);
    expect(await healthMs()).toBeLessThan(1000);
    const { text, closedAt } = await closed;
    expectTimedOut(text);
    expect(closedAt - opened).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(closedAt - opened).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
  });

  it('closes a connection that never sends a byte, at the headers timeout', async () => {
    const socket = await rawSocket(herald.port);
    const opened = Date.now();
    const { closedAt } = await collectUntilClosed(socket);
    expect(closedAt - opened).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
  });

  it('closes a WebSocket handshake that trickles in, at the headers timeout', async () => {
    const socket = await rawSocket(herald.port);
    const closed = collectUntilClosed(socket);
    const opened = Date.now();
    void trickle(
      socket,
      'GET /connection/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `Sec-WebSocket-Protocol: herald.v1.json\r\nX-Slow: ${'a'.repeat(1000)}\r\n\r\n`,
      150,
    );
    const { text, closedAt } = await closed;
    expect(text).not.toMatch(/^HTTP\/1\.1 101/);
    expect(closedAt - opened).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
  });

  it('holds 200 slow clients at once without slowing anyone else, and closes all of them', async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, () => rawSocket(herald.port)));
    const closes = sockets.map((socket) => collectUntilClosed(socket));
    for (const socket of sockets) void trickle(socket, `GET / HTTP/1.1\r\nX-Slow: ${'a'.repeat(500)}`, 100);
    const opened = Date.now();
    for (let i = 0; i < 5; i++) expect(await healthMs()).toBeLessThan(1000);
    const client = await herald.client();
    await expect(client.call('ping', {})).resolves.toEqual({});
    client.close();
    const ends = await Promise.all(closes);
    expect(Math.max(...ends.map((end) => end.closedAt)) - opened).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
  });
});

describe('slow bodies', () => {
  const head = (length: number) =>
    `POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: apikey ${TEST_API_KEY}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

  it('closes a client trickling its body, at the request timeout, publishing nothing', async () => {
    const body = JSON.stringify({ channel: 'chat:slow', data: 'x'.repeat(200) });
    const socket = await rawSocket(herald.port);
    const closed = collectUntilClosed(socket);
    const opened = Date.now();
    socket.write(head(Buffer.byteLength(body)));
    void trickle(socket, body, 100);
    expect(await healthMs()).toBeLessThan(1000);
    const { text, closedAt } = await closed;
    expectTimedOut(text);
    expect(closedAt - opened).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(closedAt - opened).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    const history = await fetch(`${herald.url}/api/history?channel=chat:slow`, {
      headers: { authorization: `apikey ${TEST_API_KEY}` },
    });
    expect(((await history.json()) as { publications: unknown[] }).publications).toHaveLength(0);
  });

  it('still takes a slow body that arrives within the request timeout', async () => {
    const body = JSON.stringify({ channel: 'chat:patient', data: 'hello' });
    const socket = await rawSocket(herald.port);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.write(head(Buffer.byteLength(body)));
    await trickle(socket, body, Math.floor(REQUEST_TIMEOUT_MS / 2 / body.length));
    await waitFor(() => answer.includes('\r\n\r\n'), 3000, 'the answer');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    socket.destroy();
  });
});

describe('connections meant to last', () => {
  it('keeps an open WebSocket and an SSE stream past both timeouts', async () => {
    const client = await herald.client();
    const stream = await SseStream.open(`${herald.url}/connection/sse?token=${await herald.token()}`);
    await sleep(REQUEST_TIMEOUT_MS + SLACK_MS);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await expect(client.call('ping', {})).resolves.toEqual({});
    expect(stream.closed).toBe(false);
    client.close();
    stream.close();
  });
});
