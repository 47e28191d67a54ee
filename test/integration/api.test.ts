/**
 * The server HTTP API end to end: a real Herald server on loopback, real HTTP through fetch, real
 * WebSocket clients for the routes that act on connections.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { mintToken } from '../../src/auth/tokens.ts';
import { ERRORS, type ErrorName } from '../../src/core/errors.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { BATCH_DATA_LIMIT_BYTES, BATCH_MAX_PUBLICATIONS } from '../../src/api/routes/publish.ts';
import { BATCH_BODY_LIMIT_BYTES } from '../../src/api/schemas.ts';
import { startHerald, type HeraldServer } from '../../src/server.ts';
import { TEST_API_KEY, TEST_TOKEN_SECRET, testConfig } from '../helpers/config.ts';

let server: HeraldServer;
const AUTH = { authorization: `apikey ${TEST_API_KEY}` };

beforeAll(async () => {
  server = await startHerald(
    testConfig({ namespaces: { live: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 0 } } }),
    { logger: pino({ level: 'silent' }) },
  );
});
afterAll(() => server.close());

let counter = 0;
/** A channel name no other test uses. */
function channel(namespace = 'chat'): string {
  counter += 1;
  return `${namespace}:api-${counter}`;
}

type Json = Record<string, unknown>;

interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Json;
}

async function request(
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: options.headers ?? AUTH,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Json),
  };
}

function post(path: string, body: unknown, headers: Record<string, string> = AUTH): Promise<ApiResponse> {
  return request('POST', path, {
    body: JSON.stringify(body),
    headers: { ...headers, 'content-type': 'application/json' },
  });
}

function get(path: string, headers: Record<string, string> = AUTH): Promise<ApiResponse> {
  return request('GET', path, { headers });
}

function expectError(response: ApiResponse, code: ErrorName, message?: string | RegExp): void {
  expect(response.status).toBe(ERRORS[code].http);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(response.body['error']).toEqual({ code, wireCode: ERRORS[code].wire, message: expect.any(String) });
  if (message !== undefined) expect((response.body['error'] as Json)['message']).toMatch(message);
}

interface WirePublication {
  offset: number;
  epoch: string;
  data: unknown;
  time: number;
}

async function history(
  query: string,
): Promise<{ publications: WirePublication[]; offset: number; epoch: string }> {
  const response = await get(`/api/history?${query}`);
  expect(response.status).toBe(200);
  return response.body as unknown as { publications: WirePublication[]; offset: number; epoch: string };
}

describe('POST /api/publish', () => {
  it('answers the position, the offset growing by one per publication', async () => {
    const name = channel();
    const first = await post('/api/publish', { channel: name, data: { text: 'one' } });
    const second = await post('/api/publish', { channel: name, data: { text: 'two' } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ offset: 1, epoch: expect.any(String) });
    expect(second.body).toEqual({ offset: 2, epoch: first.body['epoch'] });
  });

  it('keeps any JSON value exactly as sent, null and "__proto__" keys included', async () => {
    const name = channel();
    const values = [null, 'text', 42.5, true, [1, [2]], { nested: { deep: [null] } }];
    for (const data of values) expect((await post('/api/publish', { channel: name, data })).status).toBe(200);
    const raw = `{"channel":"${name}","data":{"__proto__":{"polluted":true}}}`;
    const poisoned = await request('POST', '/api/publish', {
      body: raw,
      headers: { ...AUTH, 'content-type': 'application/json' },
    });
    expect(poisoned.status).toBe(200);
    expect(({} as Json)['polluted']).toBeUndefined();

    const response = await fetch(`${server.url}/api/history?channel=${name}`, { headers: AUTH });
    const text = await response.text();
    expect(text).toContain('"data":{"__proto__":{"polluted":true}}');
    const { publications } = JSON.parse(text) as { publications: WirePublication[] };
    expect(publications.slice(0, values.length).map((p) => p.data)).toEqual(values);
  });

  it('answers {} on a channel that keeps no history', async () => {
    const response = await post('/api/publish', { channel: channel('live'), data: 1 });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({});
  });

  it('publishes once per idempotency key and answers a repeat with the first result', async () => {
    const name = channel();
    const first = await post('/api/publish', { channel: name, data: 'once', idempotencyKey: 'order-1' });
    const repeat = await post('/api/publish', { channel: name, data: 'once', idempotencyKey: 'order-1' });
    expect(first.status).toBe(200);
    expect(repeat.body).toEqual(first.body);
    const stored = await history(`channel=${name}`);
    expect(stored.publications.map((p) => p.data)).toEqual(['once']);

    const other = await post('/api/publish', { channel: name, data: 'twice', idempotencyKey: 'order-2' });
    expect(other.body).toEqual({ offset: 2, epoch: first.body['epoch'] });
  });

  it('rejects idempotency keys that are empty or longer than 256 characters', async () => {
    expectError(
      await post('/api/publish', { channel: channel(), data: 1, idempotencyKey: '' }),
      'HERALD_ERR_BAD_REQUEST',
      /body\/idempotencyKey/,
    );
    expectError(
      await post('/api/publish', { channel: channel(), data: 1, idempotencyKey: 'k'.repeat(257) }),
      'HERALD_ERR_BAD_REQUEST',
      /body\/idempotencyKey/,
    );
  });
});

describe('POST /api/broadcast', () => {
  it('publishes to every valid channel even when one is invalid', async () => {
    const [a, b] = [channel(), channel()];
    const live = channel('live');
    const response = await post('/api/broadcast', { channels: [a, 'bad channel!', live, b], data: { n: 1 } });
    expect(response.status).toBe(200);
    expect(response.body['results']).toEqual([
      { channel: a, offset: 1, epoch: expect.any(String) },
      {
        channel: 'bad channel!',
        error: {
          code: 'HERALD_ERR_INVALID_CHANNEL',
          wireCode: ErrorCode.INVALID_CHANNEL,
          message: expect.any(String),
        },
      },
      { channel: live },
      { channel: b, offset: 1, epoch: expect.any(String) },
    ]);
    expect((await history(`channel=${a}`)).publications.map((p) => p.data)).toEqual([{ n: 1 }]);
    expect((await history(`channel=${b}`)).publications.map((p) => p.data)).toEqual([{ n: 1 }]);
  });

  it('applies an idempotency key per channel', async () => {
    const [a, b, c] = [channel(), channel(), channel()];
    const first = await post('/api/broadcast', { channels: [a, b], data: 'x', idempotencyKey: 'batch-1' });
    const retry = await post('/api/broadcast', { channels: [a, b, c], data: 'x', idempotencyKey: 'batch-1' });
    const firstResults = first.body['results'] as Json[];
    const retryResults = retry.body['results'] as Json[];
    expect(retryResults.slice(0, 2)).toEqual(firstResults);
    expect(retryResults[2]).toEqual({ channel: c, offset: 1, epoch: expect.any(String) });
    expect((await history(`channel=${a}`)).publications).toHaveLength(1);
  });

  it('validates the channel list', async () => {
    expectError(
      await post('/api/broadcast', { channels: [], data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      /body\/channels/,
    );
    expectError(
      await post('/api/broadcast', { channels: ['a', 'a'], data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      /body\/channels must NOT have duplicate items/,
    );
    const tooMany = Array.from({ length: 1001 }, (_, i) => `many:${i}`);
    expectError(
      await post('/api/broadcast', { channels: tooMany, data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      /body\/channels/,
    );
    expectError(
      await post('/api/broadcast', { channels: ['a', 7], data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      'body/channels/1 must be string',
    );
    expectError(
      await post('/api/broadcast', { channels: ['a'] }),
      'HERALD_ERR_BAD_REQUEST',
      'body/data is required',
    );
  });
});

describe('POST /api/publish/batch', () => {
  const batch = (publications: unknown) => post('/api/publish/batch', { publications });

  it('answers one result per publication in request order, each channel in order with consecutive offsets', async () => {
    const [a, b] = [channel(), channel()];
    await post('/api/publish', { channel: a, data: 0 });
    const response = await batch([
      { channel: a, data: { n: 1 } },
      { channel: b, data: 'b1' },
      { channel: a, data: { n: 2 } },
      { channel: a, data: [3] },
      { channel: b, data: null },
    ]);
    expect(response.status).toBe(200);
    const results = response.body['results'] as Json[];
    const epochA = results[0]?.['epoch'];
    const epochB = results[1]?.['epoch'];
    expect(results).toEqual([
      { channel: a, offset: 2, epoch: epochA },
      { channel: b, offset: 1, epoch: epochB },
      { channel: a, offset: 3, epoch: epochA },
      { channel: a, offset: 4, epoch: epochA },
      { channel: b, offset: 2, epoch: epochB },
    ]);
    expect(typeof epochA).toBe('string');
    expect((await history(`channel=${a}`)).publications.map((p) => p.data)).toEqual([
      0,
      { n: 1 },
      { n: 2 },
      [3],
    ]);
    expect((await history(`channel=${b}`)).publications.map((p) => p.data)).toEqual(['b1', null]);
  });

  it('fails a bad publication alone: invalid channel, data too large or nested too deeply', async () => {
    const [a, live] = [channel(), channel('live')];
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const large = JSON.stringify('x'.repeat(BATCH_DATA_LIMIT_BYTES));
    const body =
      `{"publications":[{"channel":"${a}","data":1},{"channel":"bad channel!","data":2},` +
      `{"channel":"${a}","data":${large}},{"channel":"${live}","data":3},` +
      `{"channel":"${a}","data":${deep}},{"channel":"${a}","data":4}]}`;
    const response = await request('POST', '/api/publish/batch', {
      body,
      headers: { ...AUTH, 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    const error = (code: ErrorName, message: unknown = expect.any(String)) => ({
      error: { code, wireCode: ERRORS[code].wire, message },
    });
    expect(response.body['results']).toEqual([
      { channel: a, offset: 1, epoch: expect.any(String) },
      { channel: 'bad channel!', ...error('HERALD_ERR_INVALID_CHANNEL') },
      {
        channel: a,
        ...error(
          'HERALD_ERR_PAYLOAD_TOO_LARGE',
          `data is larger than ${BATCH_DATA_LIMIT_BYTES} bytes as JSON`,
        ),
      },
      { channel: live },
      { channel: a, ...error('HERALD_ERR_BAD_REQUEST', 'data is nested too deeply') },
      { channel: a, offset: 2, epoch: expect.any(String) },
    ]);
    expect((await history(`channel=${a}`)).publications.map((p) => p.data)).toEqual([1, 4]);
  });

  it('answers repeated idempotency keys with the first result, within a batch and across requests', async () => {
    const name = channel();
    const single = await post('/api/publish', { channel: name, data: 'first', idempotencyKey: 'k0' });
    const response = await batch([
      { channel: name, data: 'a', idempotencyKey: 'k1' },
      { channel: name, data: 'repeat', idempotencyKey: 'k0' },
      { channel: name, data: 'a again', idempotencyKey: 'k1' },
      { channel: name, data: 'b', idempotencyKey: 'k2' },
    ]);
    const epoch = single.body['epoch'];
    expect(response.body['results']).toEqual([
      { channel: name, offset: 2, epoch },
      { channel: name, offset: 1, epoch },
      { channel: name, offset: 2, epoch },
      { channel: name, offset: 3, epoch },
    ]);
    const retry = await batch([{ channel: name, data: 'b', idempotencyKey: 'k2' }]);
    expect(retry.body['results']).toEqual([{ channel: name, offset: 3, epoch }]);
    expect((await history(`channel=${name}`)).publications.map((p) => p.data)).toEqual(['first', 'a', 'b']);
  });

  it('validates the publication list', async () => {
    expectError(
      await post('/api/publish/batch', {}),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications is required',
    );
    expectError(
      await batch([]),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications must NOT have fewer than 1 items',
    );
    const tooMany = Array.from({ length: BATCH_MAX_PUBLICATIONS + 1 }, (_, i) => ({
      channel: `many:${i}`,
      data: i,
    }));
    expectError(
      await batch(tooMany),
      'HERALD_ERR_BAD_REQUEST',
      `body/publications must NOT have more than ${BATCH_MAX_PUBLICATIONS} items`,
    );
    expectError(
      await batch([{ channel: 'a', data: 1 }, { data: 2 }]),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications/1/channel is required',
    );
    expectError(
      await batch([{ channel: 'a' }]),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications/0/data is required',
    );
    expectError(
      await batch([{ channel: 7, data: 1 }]),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications/0/channel must be string',
    );
    expectError(
      await batch([{ channel: 'a', data: 1, idempotencykey: 'typo' }]),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications/0/idempotencykey is not allowed',
    );
    expectError(
      await batch([{ channel: 'a', data: 1, idempotencyKey: '' }]),
      'HERALD_ERR_BAD_REQUEST',
      /body\/publications\/0\/idempotencyKey/,
    );
    expectError(
      await batch({ channel: 'a', data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      'body/publications must be array',
    );
    expectError(
      await post('/api/publish/batch', { publications: [{ channel: 'a', data: 1 }], extra: true }),
      'HERALD_ERR_BAD_REQUEST',
      'body/extra is not allowed',
    );
  });

  it('takes bodies over 1 MiB and answers 413 over 8 MiB', async () => {
    const name = channel();
    const data = 'x'.repeat(512 * 1024);
    const ok = await batch(Array.from({ length: 4 }, () => ({ channel: name, data })));
    expect(ok.status).toBe(200);
    expect((ok.body['results'] as Json[]).map((r) => r['offset'])).toEqual([1, 2, 3, 4]);
    const tooLarge = Array.from({ length: 9 }, () => ({ channel: name, data: 'x'.repeat(1000 * 1024) }));
    expectError(
      await batch(tooLarge),
      'HERALD_ERR_PAYLOAD_TOO_LARGE',
      `the request body is larger than ${BATCH_BODY_LIMIT_BYTES} bytes`,
    );
    expect((await history(`channel=${name}&limit=0`)).offset).toBe(4);
  });
});

describe('GET /api/history', () => {
  let name: string;
  let epoch: string;

  beforeAll(async () => {
    name = channel();
    for (let n = 1; n <= 5; n += 1) await post('/api/publish', { channel: name, data: { n } });
    epoch = (await history(`channel=${name}&limit=0`)).epoch;
  });

  const offsets = (publications: WirePublication[]) => publications.map((p) => p.offset);

  it('returns every publication in order, with the position and the wire form', async () => {
    const result = await history(`channel=${name}`);
    expect(result.offset).toBe(5);
    expect(result.epoch).toBe(epoch);
    expect(offsets(result.publications)).toEqual([1, 2, 3, 4, 5]);
    expect(result.publications[0]).toEqual({ offset: 1, epoch, data: { n: 1 }, time: expect.any(Number) });
  });

  it('honours since (exclusive), limit and reverse', async () => {
    expect(offsets((await history(`channel=${name}&since=2`)).publications)).toEqual([3, 4, 5]);
    expect(offsets((await history(`channel=${name}&since=2&limit=2`)).publications)).toEqual([3, 4]);
    expect(offsets((await history(`channel=${name}&reverse=true`)).publications)).toEqual([5, 4, 3, 2, 1]);
    expect(offsets((await history(`channel=${name}&reverse=true&limit=2`)).publications)).toEqual([5, 4]);
    expect(offsets((await history(`channel=${name}&since=5`)).publications)).toEqual([]);
    const empty = await history(`channel=${name}&limit=0`);
    expect(empty).toEqual({ publications: [], offset: 5, epoch });
  });

  it('accepts the current epoch and answers 409 for another one', async () => {
    expect(offsets((await history(`channel=${name}&since=3&epoch=${epoch}`)).publications)).toEqual([4, 5]);
    expectError(
      await get(`/api/history?channel=${name}&since=3&epoch=old-epoch`),
      'HERALD_ERR_UNRECOVERABLE_POSITION',
      /old-epoch/,
    );
  });

  it('answers a channel never published to with an empty history', async () => {
    const result = await history(`channel=${channel()}`);
    expect(result.publications).toEqual([]);
    expect(result.offset).toBe(0);
    expect(result.epoch).not.toBe('');
  });

  it('answers 400 HERALD_ERR_HISTORY_DISABLED where the namespace keeps no history', async () => {
    expectError(await get(`/api/history?channel=${channel('live')}`), 'HERALD_ERR_HISTORY_DISABLED');
  });

  it('validates the query', async () => {
    expectError(await get('/api/history'), 'HERALD_ERR_BAD_REQUEST', 'querystring/channel is required');
    expectError(
      await get(`/api/history?channel=${name}&since=-1`),
      'HERALD_ERR_BAD_REQUEST',
      /querystring\/since/,
    );
    expectError(
      await get(`/api/history?channel=${name}&since=x`),
      'HERALD_ERR_BAD_REQUEST',
      /querystring\/since/,
    );
    expectError(
      await get(`/api/history?channel=${name}&limit=1.5`),
      'HERALD_ERR_BAD_REQUEST',
      /querystring\/limit/,
    );
    expectError(
      await get(`/api/history?channel=${name}&reverse=maybe`),
      'HERALD_ERR_BAD_REQUEST',
      /querystring\/reverse/,
    );
    expectError(await get(`/api/history?channel=${name}&epoch=${epoch}`), 'HERALD_ERR_BAD_REQUEST', /since/);
    expectError(
      await get(`/api/history?channel=${name}&offset=1`),
      'HERALD_ERR_BAD_REQUEST',
      /querystring\/offset/,
    );
    expectError(await get('/api/history?channel=no%20spaces'), 'HERALD_ERR_INVALID_CHANNEL');
  });
});

/** A WebSocket client connected as `user` and subscribed to `channels`. */
interface TestClient {
  readonly id: string;
  readonly closed: Promise<number>;
}

async function connectClient(user: string, channels: readonly string[]): Promise<TestClient> {
  const url = `${server.url.replace('http', 'ws')}/connection/websocket`;
  const ws = new WebSocket(url, 'herald.v1.json');
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const replies = new Map<number, (reply: Json) => void>();
  ws.on('message', (data: Buffer) => {
    for (const line of data.toString().split('\n')) {
      const message = JSON.parse(line) as Json;
      if (typeof message['id'] === 'number') replies.get(message['id'])?.(message);
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 0;
  const call = (method: string, params: Json): Promise<Json> => {
    nextId += 1;
    const id = nextId;
    const reply = new Promise<Json>((resolve) => replies.set(id, resolve));
    ws.send(JSON.stringify({ id, [method]: params }));
    return reply;
  };
  const connected = await call('connect', { token: await mintToken(TEST_TOKEN_SECRET, { user }) });
  const result = connected['result'] as Json | undefined;
  if (result === undefined) throw new Error(`connect failed: ${JSON.stringify(connected)}`);
  for (const name of channels) {
    const subscribed = await call('subscribe', { channel: name });
    if (subscribed['result'] === undefined)
      throw new Error(`subscribe failed: ${JSON.stringify(subscribed)}`);
  }
  return { id: String(result['client']), closed };
}

describe('channels, info and disconnect with connected clients', () => {
  it('lists a channel once a client subscribes, filtered by pattern', async () => {
    const room = channel('room');
    const other = channel('other');
    await connectClient('carol', [room, other]);
    await connectClient('dave', [room]);

    const all = await get('/api/channels');
    expect(all.status).toBe(200);
    expect(all.body['channels']).toEqual(
      expect.arrayContaining([
        { channel: room, subscribers: 2 },
        { channel: other, subscribers: 1 },
      ]),
    );
    const filtered = await get('/api/channels?pattern=room:*');
    expect(filtered.body['channels']).toContainEqual({ channel: room, subscribers: 2 });
    expect((filtered.body['channels'] as Json[]).every((c) => String(c['channel']).startsWith('room:'))).toBe(
      true,
    );
    expect((await get(`/api/channels?pattern=${room}`)).body['channels']).toEqual([
      { channel: room, subscribers: 2 },
    ]);
    expect((await get('/api/channels?pattern=nothing:*')).body['channels']).toEqual([]);
  });

  it('rejects an invalid pattern with 400', async () => {
    expectError(await get('/api/channels?pattern=bad%20pattern'), 'HERALD_ERR_BAD_REQUEST', /pattern/);
    expectError(
      await get('/api/channels?limit=3'),
      'HERALD_ERR_BAD_REQUEST',
      'querystring/limit is not allowed',
    );
  });

  it('describes the node', async () => {
    await connectClient('erin', [channel('room')]);
    const response = await get('/api/info');
    expect(response.status).toBe(200);
    const nodes = response.body['nodes'] as Json[];
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toEqual({
      id: server.node.id,
      name: 'test',
      version: server.node.version,
      engine: 'memory',
      uptime: expect.any(Number),
      connections: expect.any(Number),
      subscriptions: expect.any(Number),
      channels: expect.any(Number),
    });
    expect(nodes[0]?.['connections']).toBeGreaterThanOrEqual(1);
  });

  it("disconnects a user's clients for good (3502)", async () => {
    const first = await connectClient('frank', [channel('room')]);
    const second = await connectClient('frank', []);
    const bystander = await connectClient('grace', []);
    const response = await post('/api/disconnect', { user: 'frank' });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ disconnected: 2 });
    expect(await first.closed).toBe(DisconnectCode.FORCED);
    expect(await second.closed).toBe(DisconnectCode.FORCED);
    expect((await post('/api/disconnect', { client: bystander.id })).body).toEqual({ disconnected: 1 });
  });

  it('disconnects one client with leave to reconnect (3000)', async () => {
    const client = await connectClient('heidi', []);
    const response = await post('/api/disconnect', { client: client.id, reconnect: true });
    expect(response.body).toEqual({ disconnected: 1 });
    expect(await client.closed).toBe(DisconnectCode.RECONNECT);
  });

  it('answers 0 when nothing matches and 400 unless exactly one of user or client is given', async () => {
    expect((await post('/api/disconnect', { user: 'nobody' })).body).toEqual({ disconnected: 0 });
    expectError(
      await post('/api/disconnect', { user: 'a', client: 'b' }),
      'HERALD_ERR_BAD_REQUEST',
      'body must have exactly one of user, client',
    );
    expectError(await post('/api/disconnect', { reconnect: true }), 'HERALD_ERR_BAD_REQUEST');
    expectError(await post('/api/disconnect', { user: '' }), 'HERALD_ERR_BAD_REQUEST', /body\/user/);
    expectError(
      await post('/api/disconnect', { user: 'a', reconnect: 'yes' }),
      'HERALD_ERR_BAD_REQUEST',
      'body/reconnect must be boolean',
    );
  });
});

describe('authentication', () => {
  it('answers 401 naming what is wrong with the Authorization header', async () => {
    expectError(await get('/api/info', {}), 'HERALD_ERR_INVALID_API_KEY', /missing Authorization header/);
    expectError(
      await get('/api/info', { authorization: `Bearer ${TEST_API_KEY}` }),
      'HERALD_ERR_INVALID_API_KEY',
      /wrong Authorization scheme/,
    );
    expectError(
      await get('/api/info', { authorization: 'apikey' }),
      'HERALD_ERR_INVALID_API_KEY',
      /missing API key/,
    );
    expectError(
      await get('/api/info', { authorization: 'apikey not-the-key' }),
      'HERALD_ERR_INVALID_API_KEY',
      /unknown API key/,
    );
    expectError(
      await get('/api/info', { authorization: `apikey ${TEST_API_KEY}x` }),
      'HERALD_ERR_INVALID_API_KEY',
      /unknown API key/,
    );
    const response = await get('/api/info', {});
    expect(response.headers.get('www-authenticate')).toBe('apikey');
  });

  it('checks every request of a kept-alive connection, even after the right key passed on it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const status = (authorization: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL('/api/info', server.url);
        const req = httpRequest(url, { agent, headers: { authorization } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const sockets = new Set<unknown>();
      agent.on('free', (socket) => sockets.add(socket));
      expect(await status(`apikey ${TEST_API_KEY}`)).toBe(200);
      expect(await status('apikey not-the-key')).toBe(401);
      expect(await status(`apikey ${TEST_API_KEY}`)).toBe(200);
      expect(await status(`apikey ${TEST_API_KEY}x`)).toBe(401);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('checks the key before reading the body', async () => {
    expectError(await post('/api/publish', { channel: 'x' }, {}), 'HERALD_ERR_INVALID_API_KEY');
    const bad = await request('POST', '/api/publish', {
      body: '{oops',
      headers: { 'content-type': 'application/json' },
    });
    expectError(bad, 'HERALD_ERR_INVALID_API_KEY');
  });

  it('matches the scheme case-insensitively', async () => {
    expect((await get('/api/info', { authorization: `APIKEY ${TEST_API_KEY}` })).status).toBe(200);
  });

  it('protects every route but the OpenAPI document', async () => {
    for (const path of ['/api/info', '/api/channels', `/api/history?channel=${channel()}`]) {
      expect((await get(path, {})).status).toBe(401);
    }
    for (const path of ['/api/publish', '/api/broadcast', '/api/publish/batch', '/api/disconnect']) {
      expect((await post(path, {}, {})).status).toBe(401);
    }
    expect((await get('/api/openapi.json', {})).status).toBe(200);
  });
});

describe('errors', () => {
  it('reports schema failures naming the field', async () => {
    expectError(
      await post('/api/publish', { data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      'body/channel is required',
    );
    expectError(
      await post('/api/publish', { channel: 'a' }),
      'HERALD_ERR_BAD_REQUEST',
      'body/data is required',
    );
    expectError(
      await post('/api/publish', { channel: 42, data: 1 }),
      'HERALD_ERR_BAD_REQUEST',
      'body/channel must be string',
    );
    expectError(
      await post('/api/publish', { channel: 'a', data: 1, idempotencykey: 'typo' }),
      'HERALD_ERR_BAD_REQUEST',
      'body/idempotencykey is not allowed',
    );
    expectError(await post('/api/publish', [1, 2]), 'HERALD_ERR_BAD_REQUEST', 'body must be object');
    expectError(await post('/api/publish', 'text'), 'HERALD_ERR_BAD_REQUEST', 'body must be object');
  });

  it('answers 400 HERALD_ERR_INVALID_CHANNEL for a bad channel name', async () => {
    expectError(
      await post('/api/publish', { channel: 'has space', data: 1 }),
      'HERALD_ERR_INVALID_CHANNEL',
      /not allowed/,
    );
    expectError(await post('/api/publish', { channel: '', data: 1 }), 'HERALD_ERR_INVALID_CHANNEL', /empty/);
    expectError(
      await post('/api/publish', { channel: 'x'.repeat(256), data: 1 }),
      'HERALD_ERR_INVALID_CHANNEL',
    );
  });

  it('answers 400 HERALD_ERR_INVALID_JSON for a body that is not JSON', async () => {
    const headers = { ...AUTH, 'content-type': 'application/json' };
    expectError(
      await request('POST', '/api/publish', { body: '{"channel": "a", "data": ', headers }),
      'HERALD_ERR_INVALID_JSON',
      /not valid JSON/,
    );
    expectError(await request('POST', '/api/publish', { body: '', headers }), 'HERALD_ERR_INVALID_JSON');
  });

  it('answers 400 HERALD_ERR_BAD_REQUEST for data nested too deeply to serialise', async () => {
    const headers = { ...AUTH, 'content-type': 'application/json' };
    const n = 100_000;
    const data = '['.repeat(n) + ']'.repeat(n);
    expectError(
      await request('POST', '/api/publish', { body: `{"channel":"chat:x","data":${data}}`, headers }),
      'HERALD_ERR_BAD_REQUEST',
      'data is nested too deeply',
    );
    expectError(
      await request('POST', '/api/broadcast', { body: `{"channels":["chat:x"],"data":${data}}`, headers }),
      'HERALD_ERR_BAD_REQUEST',
      'data is nested too deeply',
    );
  });

  it('answers 400 HERALD_ERR_BAD_REQUEST for a body that is not application/json', async () => {
    const body = JSON.stringify({ channel: 'a', data: 1 });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      expectError(
        await request('POST', '/api/publish', { body, headers: { ...AUTH, 'content-type': type } }),
        'HERALD_ERR_BAD_REQUEST',
        /content type/,
      );
    }
    expectError(await request('POST', '/api/publish'), 'HERALD_ERR_BAD_REQUEST', 'body must be object');
  });

  it('accepts a JSON content type with a charset', async () => {
    const response = await request('POST', '/api/publish', {
      body: JSON.stringify({ channel: channel(), data: 'é' }),
      headers: { ...AUTH, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(response.status).toBe(200);
  });

  it('answers 413 HERALD_ERR_PAYLOAD_TOO_LARGE for a body over 1 MiB', async () => {
    const justUnder = JSON.stringify({ channel: channel(), data: 'x'.repeat(1024 * 1024 - 100) });
    const ok = await server.app.inject({
      method: 'POST',
      url: '/api/publish',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: justUnder,
    });
    expect(ok.statusCode).toBe(200);
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/publish',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ channel: 'a', data: 'x'.repeat(1024 * 1024) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({
      error: {
        code: 'HERALD_ERR_PAYLOAD_TOO_LARGE',
        wireCode: ErrorCode.PAYLOAD_TOO_LARGE,
        message: expect.any(String),
      },
    });
  });

  it('answers 404 HERALD_ERR_NOT_FOUND for an unknown route under /api, with or without a key', async () => {
    expectError(await get('/api/nope'), 'HERALD_ERR_NOT_FOUND', 'no route GET /api/nope');
    expectError(await get('/api/nope', {}), 'HERALD_ERR_NOT_FOUND');
    expectError(await get('/api'), 'HERALD_ERR_NOT_FOUND');
    expectError(await get('/api/publish'), 'HERALD_ERR_NOT_FOUND', 'no route GET /api/publish');
    expectError(await request('DELETE', '/api/info'), 'HERALD_ERR_NOT_FOUND');
  });

  it('refuses query numbers that are not finite (found by the fuzzer)', async () => {
    const name = channel();
    for (const value of ['1e999', 'Infinity']) {
      expectError(
        await get(`/api/history?channel=${name}&limit=${value}`),
        'HERALD_ERR_BAD_REQUEST',
        'querystring/limit must be a finite number',
      );
    }
    expectError(await get(`/api/presence?channel=${name}&limit=1e999`), 'HERALD_ERR_BAD_REQUEST');
  });

  it('answers malformed requests and undecodable URLs with the error body (found by the fuzzer)', async () => {
    expectError(await get('/api/%zz'), 'HERALD_ERR_BAD_REQUEST', 'not a valid url');
    expectError(
      await get('/api/info', { ...AUTH, 'x-fill': 'f'.repeat(20_000) }),
      'HERALD_ERR_HEADERS_TOO_LARGE',
      'headers are larger than 16 KiB',
    );
    const socket = netConnect(server.port, '127.0.0.1');
    socket.end('POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: {
        code: 'HERALD_ERR_BAD_REQUEST',
        wireCode: ErrorCode.BAD_REQUEST,
        message: 'malformed HTTP request',
      },
    });
  });

  it('leaves paths outside /api alone', async () => {
    expect((await get('/healthz', {})).status).toBe(200);
    expect((await get('/readyz', {})).status).toBe(200);
    expect((await get('/not-api', {})).status).toBe(404);
  });
});

describe('GET /api/openapi.json', () => {
  interface Operation {
    description?: string;
    tags?: string[];
    security?: unknown[];
    requestBody?: unknown;
    parameters?: { name: string; in: string }[];
    responses: Record<string, { content?: Record<string, { schema: Json }> }>;
  }
  let doc: {
    openapi: string;
    info: Json;
    paths: Record<string, Record<string, Operation>>;
    components: Json;
  };

  beforeAll(async () => {
    const response = await get('/api/openapi.json', {});
    expect(response.status).toBe(200);
    doc = response.body as unknown as typeof doc;
  });

  it('is an OpenAPI 3 document describing the API key scheme', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'Herald server API', version: server.node.version });
    expect(doc.components['securitySchemes']).toEqual({
      apikey: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: 'Authorization: apikey <key>',
      },
    });
    expect((doc.components['schemas'] as Json)['ErrorResponse']).toMatchObject({ required: ['error'] });
  });

  it('has a path for every route and hides the operations endpoints', () => {
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/broadcast',
        '/api/channels',
        '/api/disconnect',
        '/api/history',
        '/api/info',
        '/api/openapi.json',
        '/api/publish',
        '/api/publish/batch',
        '/api/subscribe',
        '/api/unsubscribe',
        '/api/presence',
        '/api/presence-stats',
      ].sort(),
    );
    expect(Object.keys(doc.paths['/api/publish'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/history'] ?? {})).toEqual(['get']);
  });

  it('documents every operation: description, tags, request and responses', () => {
    const errorRef = { $ref: '#/components/schemas/ErrorResponse' };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(operation.description, where).toEqual(expect.any(String));
        expect(operation.tags?.length, where).toBeGreaterThan(0);
        expect(operation.responses['200']?.content?.['application/json']?.schema, where).toBeDefined();
        if (path === '/api/openapi.json') {
          expect(operation.security, where).toEqual([]);
          continue;
        }
        expect(operation.security, where).toBeUndefined();
        expect(operation.responses['401']?.content?.['application/json']?.schema, where).toEqual(errorRef);
        expect(operation.responses['500']?.content?.['application/json']?.schema, where).toEqual(errorRef);
        if (method === 'post') expect(operation.requestBody, where).toBeDefined();
      }
    }
    expect(doc).toMatchObject({ security: [{ apikey: [] }] });
    const params = doc.paths['/api/history']?.['get']?.parameters?.map((p) => `${p.in}:${p.name}`);
    expect(params).toEqual(['query:channel', 'query:since', 'query:epoch', 'query:limit', 'query:reverse']);
  });
});

describe('docs/api.md', () => {
  it('lists every error code with its HTTP status', async () => {
    const text = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(text, code).toMatch(
        new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${spec.wire}\\s*\\|\\s*${spec.http}\\s*\\|`),
      );
    }
  });
});
