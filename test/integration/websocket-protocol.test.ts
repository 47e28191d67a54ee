import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect } from 'node:net';
import { once } from 'node:events';
import WebSocket from 'ws';
import { exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { DisconnectCode, ErrorCode, type PublicationFrame } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { ProtocolClient, ProtocolError } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

let herald: TestHerald;

beforeAll(async () => {
  herald = await startTestHerald({
    maxSubscriptionsPerConnection: 3,
    maxFrameBytes: 4096,
    namespaces: {
      chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true },
      public: { ...DEFAULT_NAMESPACE_OPTIONS, anonymousSubscribe: true },
      live: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 0 },
    },
  });
});
afterAll(() => herald.close());

async function errorOf(promise: Promise<unknown>): Promise<ProtocolError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('expected an error reply');
}

/** Sends raw text and resolves with the next message that has no matching pending call. */
function nextMessage(client: ProtocolClient, send: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    client.onMessage((message) => resolve(message));
    client.sendRaw(send);
  });
}

describe('connect', () => {
  it('answers with a client id, the server version and the ping interval', async () => {
    const client = await ProtocolClient.open(herald.wsUrl);
    const result = await client.call('connect', { token: await herald.token({ ttlSeconds: 600 }) });
    expect(result.client).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.version).toBe('0.1.0');
    expect(result.ping).toBe(25);
    expect(result.expires).toBeGreaterThan(Date.now() / 1000);
    client.close();
  });

  const badTokens: [string, () => Promise<string>, number, number][] = [
    ['garbage', async () => 'not-a-jwt', ErrorCode.UNAUTHORIZED, DisconnectCode.UNAUTHORIZED],
    [
      'signed with another secret',
      () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(new Uint8Array(32)),
      ErrorCode.UNAUTHORIZED,
      DisconnectCode.UNAUTHORIZED,
    ],
    [
      'alg none',
      async () => new UnsecuredJWT({}).setSubject('alice').encode(),
      ErrorCode.UNAUTHORIZED,
      DisconnectCode.UNAUTHORIZED,
    ],
    [
      'expired',
      () => herald.token({ ttlSeconds: -60 }),
      ErrorCode.TOKEN_EXPIRED,
      DisconnectCode.TOKEN_EXPIRED,
    ],
    [
      'without sub',
      () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(herald.config.tokenSecret)),
      ErrorCode.UNAUTHORIZED,
      DisconnectCode.UNAUTHORIZED,
    ],
  ];
  it.each(badTokens)('rejects a token that is %s, then closes', async (_name, make, code, closeCode) => {
    const client = await ProtocolClient.open(herald.wsUrl);
    const error = await errorOf(client.call('connect', { token: await make() }));
    expect(error.code).toBe(code);
    expect((await client.closed).code).toBe(closeCode);
  });

  it('accepts tokens the app signs with its own key pair, checking iss, and still refuses forgeries', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const keyed = await startTestHerald({ tokenPublicKey: await exportSPKI(publicKey), tokenIssuer: 'app' });
    try {
      const sign = (iss: string) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256' })
          .setIssuer(iss)
          .setSubject('carol')
          .sign(privateKey);
      const client = await ProtocolClient.open(keyed.wsUrl);
      await expect(client.call('connect', { token: await sign('app') })).resolves.toMatchObject({
        client: expect.any(String),
      });
      client.close();
      const wrongIssuer = await ProtocolClient.open(keyed.wsUrl);
      expect((await errorOf(wrongIssuer.call('connect', { token: await sign('other') }))).code).toBe(
        ErrorCode.UNAUTHORIZED,
      );
      expect((await wrongIssuer.closed).code).toBe(DisconnectCode.UNAUTHORIZED);
    } finally {
      await keyed.close();
    }
  });

  it('refuses a connection without a token when a namespace allows no anonymous clients', async () => {
    const strict = await startTestHerald();
    try {
      const client = await ProtocolClient.open(strict.wsUrl);
      const error = await errorOf(client.call('connect', {}));
      expect(error.code).toBe(ErrorCode.UNAUTHORIZED);
      expect(error.message).toMatch(/token is required/);
      expect((await client.closed).code).toBe(DisconnectCode.UNAUTHORIZED);
    } finally {
      await strict.close();
    }
  });

  it('lets anonymous clients subscribe only where the namespace allows it', async () => {
    const client = await herald.client({ token: null });
    await client.call('connect', {});
    await expect(client.call('subscribe', { channel: 'public:news' })).resolves.toMatchObject({
      recoverable: true,
    });
    const denied = await errorOf(client.call('subscribe', { channel: 'chat:room' }));
    expect(denied.code).toBe(ErrorCode.PERMISSION_DENIED);
    client.close();
  });

  it('rejects commands before connect and a second connect', async () => {
    const client = await herald.client({ token: null });
    expect((await errorOf(client.call('subscribe', { channel: 'chat:a' }))).code).toBe(
      ErrorCode.NOT_CONNECTED,
    );
    await expect(client.call('ping', {})).resolves.toEqual({});
    await client.call('connect', { token: await herald.token() });
    expect((await errorOf(client.call('connect', {}))).code).toBe(ErrorCode.ALREADY_CONNECTED);
    client.close();
  });

  it('answers a second connect with bad params 109 and stays open (found by the fuzzer)', async () => {
    const client = await herald.client();
    client.sendRaw('{"id":90,"connect":{"name":5}}\n{"id":91,"connect":[]}');
    const bad = await errorOf(client.call('connect', { name: 'n'.repeat(100) }));
    expect(bad.code).toBe(ErrorCode.ALREADY_CONNECTED);
    await expect(client.call('ping', {})).resolves.toEqual({});
    client.close();
  });

  it('closes a connection that never sends connect', async () => {
    const quick = await startTestHerald({ connectTimeoutMs: 200 });
    try {
      const client = await ProtocolClient.open(quick.wsUrl);
      expect((await client.closed).code).toBe(DisconnectCode.CONNECT_TIMEOUT);
    } finally {
      await quick.close();
    }
  });
});

describe('handshake', () => {
  it('requires the herald.v1.json subprotocol', async () => {
    await expect(ProtocolClient.open(herald.wsUrl, { protocols: ['other'] })).rejects.toThrow(/HTTP 400/);
  });

  it('refuses browser connections from other origins and accepts the same origin', async () => {
    await expect(ProtocolClient.open(herald.wsUrl, { origin: 'https://evil.example' })).rejects.toThrow(
      /HTTP 403/,
    );
    const same = await ProtocolClient.open(herald.wsUrl, { origin: herald.url });
    same.close();
  });

  it('accepts origins listed in allowedOrigins', async () => {
    const open = await startTestHerald({ allowedOrigins: ['https://app.example'] });
    try {
      const client = await ProtocolClient.open(open.wsUrl, { origin: 'https://app.example' });
      client.close();
      await expect(ProtocolClient.open(open.wsUrl, { origin: 'https://other.example' })).rejects.toThrow(
        /403/,
      );
    } finally {
      await open.close();
    }
  });
});

describe('subscribe and publish', () => {
  it('delivers publications in offset order', async () => {
    const client = await herald.client();
    const received: PublicationFrame[] = [];
    client.onPublication((channel, pub) => channel === 'chat:order' && received.push(pub));
    const sub = await client.call('subscribe', { channel: 'chat:order' });
    expect(sub).toMatchObject({ recoverable: true, offset: 0 });
    for (let i = 1; i <= 50; i++) await herald.publish('chat:order', { i });
    await waitFor(() => received.length === 50);
    expect(received.map((p) => p.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(received[0]).toMatchObject({ data: { i: 1 }, epoch: sub.epoch });
    client.close();
  });

  it('lets clients publish where the namespace allows it, with their identity attached', async () => {
    const client = await herald.client();
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, pub) => received.push(pub));
    await client.call('subscribe', { channel: 'chat:talk' });
    const result = await client.call('publish', { channel: 'chat:talk', data: { text: 'hi' } });
    expect(result.offset).toBe(1);
    await waitFor(() => received.length === 1);
    expect(received[0]?.info).toMatchObject({ user: 'alice' });
    const denied = await errorOf(client.call('publish', { channel: 'news:x', data: 1 }));
    expect(denied.code).toBe(ErrorCode.PERMISSION_DENIED);
    client.close();
  });

  it('narrows subscriptions to the token channels claim', async () => {
    const client = await herald.client({ token: await herald.token({ channels: ['chat:team-*'] }) });
    await expect(client.call('subscribe', { channel: 'chat:team-1' })).resolves.toBeDefined();
    expect((await errorOf(client.call('subscribe', { channel: 'chat:other' }))).code).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    client.close();
  });

  it('delivers on channels without history, without positions', async () => {
    const client = await herald.client();
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, pub) => received.push(pub));
    expect(await client.call('subscribe', { channel: 'live:ticker' })).toEqual({ recoverable: false });
    expect(await herald.publish('live:ticker', { p: 1 })).toEqual({});
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual({ data: { p: 1 }, time: expect.any(Number) });
    expect((await errorOf(client.call('history', { channel: 'live:ticker' }))).code).toBe(
      ErrorCode.HISTORY_DISABLED,
    );
    client.close();
  });

  it('unsubscribes, after which nothing more arrives', async () => {
    const client = await herald.client();
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, pub) => received.push(pub));
    await client.call('subscribe', { channel: 'chat:unsub' });
    await herald.publish('chat:unsub', 1);
    await waitFor(() => received.length === 1);
    await client.call('unsubscribe', { channel: 'chat:unsub' });
    await herald.publish('chat:unsub', 2);
    await client.call('ping', {});
    expect(received).toHaveLength(1);
    expect(herald.node.localChannels('chat:unsub').channels).toEqual([]);
    client.close();
  });

  it('reads history forwards, backwards and since a position', async () => {
    const client = await herald.client();
    for (let i = 1; i <= 5; i++) await herald.publish('chat:hist', i);
    const all = await client.call('history', { channel: 'chat:hist' });
    expect(all.publications.map((p) => p.data)).toEqual([1, 2, 3, 4, 5]);
    const newest = await client.call('history', { channel: 'chat:hist', limit: 2, reverse: true });
    expect(newest.publications.map((p) => p.offset)).toEqual([5, 4]);
    const since = await client.call('history', {
      channel: 'chat:hist',
      since: { offset: 3, epoch: all.epoch },
    });
    expect(since.publications.map((p) => p.offset)).toEqual([4, 5]);
    const stale = await errorOf(
      client.call('history', { channel: 'chat:hist', since: { offset: 3, epoch: 'old' } }),
    );
    expect(stale.code).toBe(ErrorCode.UNRECOVERABLE_POSITION);
    client.close();
  });
});

describe('framing', () => {
  it('runs several commands from one frame and correlates every reply', async () => {
    const client = await herald.client();
    const replies: Record<string, unknown>[] = [];
    client.onMessage((message) => 'id' in message && replies.push(message));
    client.sendRaw(
      [
        '{"id":10,"subscribe":{"channel":"chat:multi"}}',
        '{"id":11,"ping":{}}',
        '{"id":12,"bogus":{}}',
        '{"id":13,"history":{"channel":"chat:multi"}}',
      ].join('\n'),
    );
    await waitFor(() => replies.length === 4);
    expect(replies.map((r) => r['id'])).toEqual([10, 11, 12, 13]);
    expect(replies[2]).toEqual({
      id: 12,
      error: { code: ErrorCode.UNKNOWN_COMMAND, message: 'unknown command "bogus"' },
    });
    client.close();
  });

  it('batches publications that arrive in the same turn into one frame', async () => {
    const client = await herald.client();
    await client.call('subscribe', { channel: 'chat:batch' });
    const frames: string[] = [];
    client.ws.on('message', (data) => frames.push(data.toString()));
    // One client frame with 20 publishes: the replies and pushes leave in few frames, not 40.
    const publishes = Array.from(
      { length: 20 },
      (_, i) => `{"id":${100 + i},"publish":{"channel":"chat:batch","data":${i}}}`,
    );
    client.sendRaw(publishes.join('\n'));
    await waitFor(() => frames.join('\n').split('\n').length >= 40);
    expect(frames.length).toBeLessThan(40);
    expect(frames.some((frame) => frame.split('\n').length > 1)).toBe(true);
    client.close();
  });
});

describe('bad input', () => {
  const cases: [string, string, number][] = [
    ['invalid JSON', '{"id":1,"ping":', ErrorCode.INVALID_JSON],
    ['a JSON array', '[1,2]', ErrorCode.INVALID_JSON],
    ['a missing id', '{"ping":{}}', ErrorCode.BAD_REQUEST],
    ['a string id', '{"id":"1","ping":{}}', ErrorCode.BAD_REQUEST],
    ['two methods', '{"id":1,"ping":{},"history":{}}', ErrorCode.BAD_REQUEST],
    ['an unknown command', '{"id":1,"launch":{}}', ErrorCode.UNKNOWN_COMMAND],
    ['params that are not an object', '{"id":1,"subscribe":"chat:a"}', ErrorCode.BAD_REQUEST],
    ['a missing channel', '{"id":1,"subscribe":{}}', ErrorCode.BAD_REQUEST],
    ['a channel of the wrong type', '{"id":1,"subscribe":{"channel":42}}', ErrorCode.INVALID_CHANNEL],
    ['an invalid channel name', '{"id":1,"subscribe":{"channel":"bad channel!"}}', ErrorCode.INVALID_CHANNEL],
    [
      "a channel of Herald's own",
      '{"id":1,"subscribe":{"channel":"$herald:x"}}',
      ErrorCode.PERMISSION_DENIED,
    ],
    ['a pattern as channel', '{"id":1,"subscribe":{"channel":"chat:*"}}', ErrorCode.INVALID_CHANNEL],
    [
      'a bad since',
      '{"id":1,"subscribe":{"channel":"chat:a","since":{"offset":-1,"epoch":"x"}}}',
      ErrorCode.BAD_REQUEST,
    ],
    ['publish without data', '{"id":1,"publish":{"channel":"chat:a"}}', ErrorCode.BAD_REQUEST],
    ['a negative history limit', '{"id":1,"history":{"channel":"chat:a","limit":-5}}', ErrorCode.BAD_REQUEST],
    ['a refresh without token', '{"id":1,"refresh":{}}', ErrorCode.BAD_REQUEST],
  ];
  it.each(cases)('answers %s with its code and keeps the connection', async (_name, text, code) => {
    const client = await herald.client();
    const reply = await nextMessage(client, text);
    expect((reply['error'] as { code: number }).code).toBe(code);
    await expect(client.call('ping', {})).resolves.toEqual({});
    client.close();
  });

  it('closes with 1009 on a frame over the size limit', async () => {
    const client = await herald.client();
    client.sendRaw(`{"id":1,"publish":{"channel":"chat:a","data":"${'x'.repeat(5000)}"}}`);
    expect((await client.closed).code).toBe(1009);
  });

  it('closes with 3501 on a binary frame', async () => {
    const client = await herald.client();
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.closed).code).toBe(DisconnectCode.BAD_REQUEST);
  });

  it('rejects an already-held subscription and one past the limit', async () => {
    const client = await herald.client();
    await client.call('subscribe', { channel: 'chat:1' });
    expect((await errorOf(client.call('subscribe', { channel: 'chat:1' }))).code).toBe(
      ErrorCode.ALREADY_SUBSCRIBED,
    );
    await client.call('subscribe', { channel: 'chat:2' });
    await client.call('subscribe', { channel: 'chat:3' });
    const error = await errorOf(client.call('subscribe', { channel: 'chat:4' }));
    expect(error.code).toBe(ErrorCode.TOO_MANY_SUBSCRIPTIONS);
    client.close();
  });
});

describe('keep-alive and token lifetime', () => {
  it('pings, and closes a client that does not answer', async () => {
    const quick = await startTestHerald({ pingIntervalMs: 100, pongTimeoutMs: 200 });
    try {
      const answering = await quick.client();
      const silent = await quick.client({ autoPong: false });
      expect((await silent.closed).code).toBe(DisconnectCode.NO_PONG);
      expect(answering.ws.readyState).toBe(WebSocket.OPEN);
      answering.close();
    } finally {
      await quick.close();
    }
  });

  it('closes a connection whose token expires, unless it refreshes', async () => {
    const expiring = await herald.client({ token: await herald.token({ ttlSeconds: 1 }) });
    const refreshing = await herald.client({ token: await herald.token({ ttlSeconds: 1 }) });
    const refreshed = await refreshing.call('refresh', { token: await herald.token({ ttlSeconds: 60 }) });
    expect(refreshed.expires).toBeGreaterThan(Date.now() / 1000 + 30);
    expect((await expiring.closed).code).toBe(DisconnectCode.TOKEN_EXPIRED);
    expect(refreshing.ws.readyState).toBe(WebSocket.OPEN);
    const other = await errorOf(
      refreshing.call('refresh', { token: await herald.token({ user: 'mallory' }) }),
    );
    expect(other.code).toBe(ErrorCode.UNAUTHORIZED);
    refreshing.close();
  });
});

describe('review findings', () => {
  it('survives clients that reset the connection while an upgrade is refused', async () => {
    const { port } = new URL(herald.url);
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const socket = netConnect(Number(port), '127.0.0.1');
        await once(socket, 'connect');
        const path = i % 2 === 0 ? '/nope' : '/connection/websocket';
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        socket.resetAndDestroy();
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await fetch(`${herald.url}/healthz`)).status).toBe(200);
  });

  it('attaches the token info claim to publications, exactly', async () => {
    const client = await herald.client({ token: null });
    const token = await herald.token({ user: 'bob', info: { name: 'Bob' } });
    const { client: id } = await client.call('connect', { token });
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, pub) => received.push(pub));
    await client.call('subscribe', { channel: 'chat:info' });
    await client.call('publish', { channel: 'chat:info', data: 'hi' });
    await waitFor(() => received.length === 1);
    expect(received[0]?.info).toEqual({ client: id, user: 'bob', info: { name: 'Bob' } });
    client.close();
  });

  it('refuses anonymous publishing even where clients may publish', async () => {
    const open = await startTestHerald({
      namespaces: { chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true, anonymousSubscribe: true } },
    });
    try {
      const client = await open.client({ token: null });
      await client.call('connect', {});
      const error = await errorOf(client.call('publish', { channel: 'chat:x', data: 1 }));
      expect(error.code).toBe(ErrorCode.PERMISSION_DENIED);
      expect(error.message).toMatch(/anonymous/);
    } finally {
      await open.close();
    }
  });

  it('answers data nested too deeply with a bad-request error, not an internal one', async () => {
    const client = await herald.client();
    const depth = 1900;
    const reply = await nextMessage(
      client,
      `{"id":1,"publish":{"channel":"chat:deep","data":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
    );
    const error = reply['error'] as { code: number } | undefined;
    // Either serialisable (published) or refused as a bad request: never an internal error.
    if (error !== undefined) expect(error.code).toBe(ErrorCode.BAD_REQUEST);
    client.close();
  });

  it('closes a connection that floods commands faster than they run', async () => {
    const big = await startTestHerald();
    try {
      const client = await big.client();
      client.sendRaw(Array.from({ length: 1100 }, (_, i) => `{"id":${i + 10},"ping":{}}`).join('\n'));
      expect((await client.closed).code).toBe(DisconnectCode.BAD_REQUEST);
    } finally {
      await big.close();
    }
  });

  it('closes connections that have not sent connect yet when the server shuts down', async () => {
    const closing = await startTestHerald();
    const waiting = await ProtocolClient.open(closing.wsUrl);
    const connected = await closing.client();
    await closing.close();
    expect((await waiting.closed).code).toBe(DisconnectCode.SHUTDOWN);
    expect((await connected.closed).code).toBe(DisconnectCode.SHUTDOWN);
  });

  it('shuts down despite a connection that never sends a request, dropping it', async () => {
    const closing = await startTestHerald();
    const silent = netConnect({ host: '127.0.0.1', port: closing.port });
    await new Promise((resolve) => silent.once('connect', resolve));
    const dropped = new Promise((resolve) => silent.once('close', resolve));
    await closing.close();
    await dropped;
  });
});
