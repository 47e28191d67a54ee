/**
 * Oversized and hostile frames, over real sockets: a WebSocket frame past `maxFrameSize` closes with
 * 1009 — also when only its header announces the size, or when fragments add up to it — and malformed
 * framing with 1002/1007; a flood of WebSocket pings from a client that never reads its pongs is cut
 * off; an SSE command body or `commands` URL past the limit and an API body past its limit answer
 * 413, as do headers past Node's limit (431). After each, the process goes on serving everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import WebSocket from 'ws';
import { ErrorCode, type PublicationFrame } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import type { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { TEST_API_KEY } from '../helpers/config.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { SseStream } from '../helpers/sse.ts';
import {
  OPCODE,
  clientFrame,
  collectUntilClosed,
  rawSocket,
  rawWebSocket,
  serverCloseCode,
  sleep,
} from './helpers.ts';

const MAX_FRAME = 4096;
let herald: TestHerald;
/** A subscriber that must keep receiving while others misbehave. */
let watcher: ProtocolClient;
const watched: PublicationFrame[] = [];

beforeAll(async () => {
  herald = await startTestHerald({
    maxFrameBytes: MAX_FRAME,
    maxOutboundBytes: 64 * 1024,
    pingIntervalMs: 60_000,
    namespaces: { chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true } },
  });
  watcher = await herald.client({ token: await herald.token({ user: 'watcher' }) });
  watcher.onPublication((_channel, publication) => watched.push(publication));
  await watcher.call('subscribe', { channel: 'chat:watched' });
});
afterAll(async () => {
  watcher.close();
  await herald.close();
});

/** The process still serves: the watcher gets a new publication and a fresh client connects. */
async function stillServing(): Promise<void> {
  const before = watched.length;
  await herald.publish('chat:watched', { at: Date.now() });
  await waitFor(() => watched.length > before, 3000, 'the watcher to receive');
  const fresh = await herald.client({ token: await herald.token({ user: 'fresh' }) });
  await expect(fresh.call('ping', {})).resolves.toEqual({});
  fresh.close();
}

/** A ping command padded with JSON whitespace to exactly `bytes` bytes. */
const paddedPing = (bytes: number) => {
  const ping = '{"id":1,"ping":{}}';
  return ping + ' '.repeat(bytes - ping.length);
};

describe('WebSocket frames over maxFrameSize', () => {
  it('accepts a frame of exactly the limit and closes with 1009 at one byte more', async () => {
    const client = await herald.client();
    const answered = new Promise((resolve) => client.onMessage(resolve));
    client.sendRaw(paddedPing(MAX_FRAME));
    expect(await answered).toEqual({ id: 1, result: {} });
    client.sendRaw(paddedPing(MAX_FRAME + 1));
    expect((await client.closed).code).toBe(1009);
    await stillServing();
  });

  it('closes at once on a header announcing a huge frame, before any of its payload arrives', async () => {
    for (const declaredLength of [MAX_FRAME + 1, 2 ** 32, 2 ** 53 - 1]) {
      const socket = await rawWebSocket(herald.port);
      const closed = collectUntilClosed(socket);
      const sent = Date.now();
      socket.write(clientFrame(OPCODE.text, Buffer.from('{"id":1,'), { declaredLength }));
      const { text, closedAt } = await closed;
      expect(serverCloseCode(text)).toBe(1009);
      expect(closedAt - sent).toBeLessThan(2500);
    }
    await stillServing();
  });

  it('closes with 1009 when fragments add up to more than the limit', async () => {
    const socket = await rawWebSocket(herald.port);
    const closed = collectUntilClosed(socket);
    const part = Buffer.alloc(1500, 0x20);
    socket.write(clientFrame(OPCODE.text, part, { fin: false }));
    for (let i = 0; i < 3; i++) socket.write(clientFrame(OPCODE.continuation, part, { fin: false }));
    expect(serverCloseCode((await closed).text)).toBe(1009);
    await stillServing();
  });

  it('closes a connection sending endless empty fragments', async () => {
    const socket = await rawWebSocket(herald.port);
    const closed = collectUntilClosed(socket);
    socket.write(clientFrame(OPCODE.text, Buffer.alloc(0), { fin: false }));
    const empty = clientFrame(OPCODE.continuation, Buffer.alloc(0), { fin: false });
    const burst = Buffer.concat(Array(1000).fill(empty) as Buffer[]);
    for (let i = 0; i < 100 && !socket.destroyed; i++) {
      socket.write(burst);
      await sleep(0);
    }
    // `ws` refuses a message in more than 16,384 fragments as a policy violation.
    expect(serverCloseCode((await closed).text)).toBe(1008);
    await stillServing();
  });

  const malformed: [string, Buffer, number][] = [
    ['a ping with a payload over 125 bytes', clientFrame(OPCODE.ping, Buffer.alloc(200)), 1002],
    ['a fragmented ping', clientFrame(OPCODE.ping, Buffer.alloc(4), { fin: false }), 1002],
    ['an unknown opcode', clientFrame(0x3, Buffer.alloc(4)), 1002],
    ['a continuation without a start', clientFrame(OPCODE.continuation, Buffer.from('{}')), 1002],
    ['text that is not UTF-8', clientFrame(OPCODE.text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007],
  ];
  it.each(malformed)('closes on %s with its standard code', async (_what, frame, code) => {
    const socket = await rawWebSocket(herald.port);
    const closed = collectUntilClosed(socket);
    socket.write(frame);
    expect(serverCloseCode((await closed).text)).toBe(code);
  });

  it('drops a client that floods WebSocket pings and never reads the pongs, memory bounded', async () => {
    const socket = await rawWebSocket(herald.port);
    const connect = JSON.stringify({ id: 1, connect: { token: await herald.token({ user: 'pinger' }) } });
    socket.write(clientFrame(OPCODE.text, Buffer.from(connect)));
    await waitFor(() => herald.node.hub.userClientCount('pinger') === 1, 3000, 'connected');
    const closed = collectUntilClosed(socket);
    socket.pause(); // never read again: every pong stays with the server
    const ping = clientFrame(OPCODE.ping, Buffer.alloc(125, 0x61));
    const burst = Buffer.concat(Array(8000).fill(ping) as Buffer[]); // about 1 MB
    const heapBefore = process.memoryUsage().rss;
    for (let sent = 0; sent < 256 && !socket.destroyed; sent++) {
      if (!socket.write(burst))
        await Promise.race([once(socket, 'drain'), once(socket, 'close')]).catch(() => undefined);
    }
    socket.resume();
    await closed;
    await waitFor(() => herald.node.hub.userClientCount('pinger') === 0, 3000, 'the session released');
    // The server did not hold a pong for each of the quarter million pings.
    expect(process.memoryUsage().rss - heapBefore).toBeLessThan(200 * 1024 * 1024);
    await stillServing();
  });
});

describe('SSE command bodies and URLs over maxFrameSize', () => {
  it('answers 413 to an oversized command body or commands URL, and the session goes on', async () => {
    const stream = await SseStream.open(`${herald.url}/connection/sse?token=${await herald.token()}`);
    await waitFor(() => stream.events.some((event) => event.event === 'session'), 3000, 'the session');
    const { client, key } = JSON.parse(stream.events[0]?.data ?? '{}') as { client: string; key: string };
    const post = (body: string) =>
      fetch(`${herald.url}/connection/sse/commands?client=${client}&key=${key}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body,
      });
    const tooLarge = await post(paddedPing(MAX_FRAME + 1));
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: 'HERALD_ERR_PAYLOAD_TOO_LARGE' } });
    expect((await post('{"id":7,"ping":{}}')).status).toBe(202);
    await waitFor(() => stream.messages().some((m) => m['id'] === 7), 3000, 'the ping reply');
    expect(stream.closed).toBe(false);
    stream.close();

    const commands = encodeURIComponent(paddedPing(MAX_FRAME + 1));
    const url = await fetch(`${herald.url}/connection/sse?commands=${commands}`);
    expect(url.status).toBe(413);
    expect(await url.json()).toMatchObject({ error: { code: 'HERALD_ERR_PAYLOAD_TOO_LARGE' } });
    await stillServing();
  });
});

describe('API bodies over their limits', () => {
  const publish = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${herald.url}${path}`, {
      method: 'POST',
      headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      body,
      duplex: 'half',
    } as RequestInit);

  it('answers 413 to a publish over 1 MiB and a batch over 8 MiB', async () => {
    const big = JSON.stringify({ channel: 'chat:big', data: 'x'.repeat(1024 * 1024) });
    const response = await publish('/api/publish', big);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'HERALD_ERR_PAYLOAD_TOO_LARGE' } });
    const batch = JSON.stringify({
      publications: Array.from({ length: 9 }, () => ({ channel: 'chat:big', data: 'x'.repeat(1024 * 1024) })),
    });
    expect((await publish('/api/publish/batch', batch)).status).toBe(413);
    await stillServing();
  });

  it('answers 413 to a streamed (chunked) body once it passes the limit', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += chunk.length;
        // Endless, as far as the server can tell: it must stop reading by itself.
        if (sent > 64 * 1024 * 1024) controller.close();
        else controller.enqueue(chunk);
      },
    });
    // The answer arrives while the client is still sending (200 of 200 tries did, measured).
    const response = await publish('/api/publish', body);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    await stillServing();
  });

  it('answers 413 at once to a declared Content-Length over the limit, without waiting for it', async () => {
    const socket = await rawSocket(herald.port);
    const closed = collectUntilClosed(socket);
    socket.write(
      `POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: apikey ${TEST_API_KEY}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"channel":',
    );
    const answer = await Promise.race([
      new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString()))),
      sleep(3000).then(() => 'no answer'),
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    socket.destroy();
    await closed;
    await stillServing();
  });

  it("refuses request headers over Node's limit (16 KiB) without reading on", async () => {
    const response = await fetch(`${herald.url}/healthz`, { headers: { 'x-filler': 'x'.repeat(64 * 1024) } });
    expect(response.status).toBe(431);
    expect(await response.json()).toMatchObject({ error: { code: 'HERALD_ERR_HEADERS_TOO_LARGE' } });
    await stillServing();
  });
});

describe('frames that are big but allowed', () => {
  it('runs a frame of many small commands up to the limit, replies and all', async () => {
    const client = await herald.client({ token: await herald.token({ user: 'batcher' }) });
    const lines = Array.from({ length: 150 }, (_, i) => `{"id":${i + 1},"ping":{}}`).join('\n');
    expect(Buffer.byteLength(lines)).toBeLessThanOrEqual(MAX_FRAME);
    const replies: unknown[] = [];
    client.onMessage((message) => replies.push(message));
    client.sendRaw(lines);
    await waitFor(() => replies.length === 150, 3000, 'every reply');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(
      replies.every(
        (reply) =>
          (reply as { result?: unknown }).result !== undefined ||
          (reply as { error?: { code?: number } }).error?.code === ErrorCode.COMMAND_RATE_LIMITED,
      ),
    ).toBe(true);
    client.close();
  });
});
