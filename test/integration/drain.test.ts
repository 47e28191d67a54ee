/**
 * Graceful drain: a node told to shut down turns not ready, stops listening, moves its clients to the
 * other nodes a few at a time over the drain period, finishes the publishes under way, and exits —
 * losing and repeating nothing, with clients on two nodes behind a load balancer and a publisher that
 * never stops.
 */
import { connect as tcpConnect } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode } from '@herald/protocol';
import { mintToken } from '../../src/auth/tokens.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import type { HeraldConfig } from '../../src/config/config.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import type { PublishOptions, PublishResult } from '../../src/engine/broker.ts';
import { RedisBroker } from '../../src/engine/redis/redis-broker.ts';
import { startHerald, type HeraldServer } from '../../src/server.ts';
import { CheckingPublisher } from '../helpers/checking-publisher.ts';
import { finished, logLines, run } from '../helpers/cli.ts';
import { TEST_API_KEY, TEST_TOKEN_SECRET, testConfig } from '../helpers/config.ts';
import { finishRun } from '../helpers/delivery-check.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { SdkCheckingSubscriber } from '../helpers/sdk-checking-subscriber.ts';
import { SseStream } from '../helpers/sse.ts';
import { startTcpBalancer } from '../helpers/tcp-balancer.ts';

const DRAIN_MS = 2000;
const CHANNELS = ['feed:a', 'feed:b', 'feed:c'];
const SUBSCRIBERS = 12;
const NAMESPACES: HeraldConfig['namespaces'] = {
  feed: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 5000 },
  chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true },
};

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Resolves when a TCP connection to `port` opens (and closes it), rejects when it is refused. */
function tryConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

describe('draining one of two nodes behind a load balancer', () => {
  it('moves every client to the other node, spread over the drain period, with nothing lost or repeated', async () => {
    const shared = { redisUrl: redis.url, redisPrefix: uniquePrefix(), namespaces: NAMESPACES };
    const a = await startTestHerald({ ...shared, nodeName: 'a', drainPeriodMs: DRAIN_MS });
    const b = await startTestHerald({ ...shared, nodeName: 'b' });
    const balancer = await startTcpBalancer([
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ]);
    const subscribers: SdkCheckingSubscriber[] = [];
    let publisher: CheckingPublisher | undefined;
    try {
      const url = `ws://127.0.0.1:${balancer.port}/connection/websocket`;
      for (let i = 0; i < SUBSCRIBERS; i++) {
        const getToken = () => b.token({ user: `user-${i}` });
        subscribers.push(await SdkCheckingSubscriber.start({ url, channels: CHANNELS, getToken }));
      }
      const onA = subscribers.filter((s) => a.node.hub.client(s.clientId) !== undefined);
      const onB = subscribers.filter((s) => b.node.hub.client(s.clientId) !== undefined);
      expect(onA.length + onB.length).toBe(SUBSCRIBERS);
      expect(onA.length).toBeGreaterThanOrEqual(SUBSCRIBERS / 2 - 1);
      expect(onB.length).toBeGreaterThanOrEqual(SUBSCRIBERS / 2 - 1);

      // The app's back end publishes through the node that stays.
      publisher = CheckingPublisher.start({
        apiUrls: [b.url],
        apiKey: TEST_API_KEY,
        channels: CHANNELS,
        intervalMs: 5,
      });
      await publisher.acknowledged(60);

      const startedAt = Date.now();
      const closing = a.close();
      // Not ready at once, and no new connections; what still reaches it is told to go elsewhere.
      expect(a.node.ready).toBe(false);
      const readyz = await a.app.inject({ url: '/readyz' });
      expect(readyz.statusCode).toBe(503);
      expect(readyz.headers['connection']).toBe('close');
      await expect(tryConnect(a.port)).rejects.toThrow(/ECONNREFUSED/);
      await closing;
      const closedAfter = Date.now() - startedAt;

      await waitFor(
        () => subscribers.every((s) => s.subscribed && b.node.hub.client(s.clientId) !== undefined),
        10_000,
        'every client to be back, on node B',
      );
      await publisher.acknowledged(60);
      const { check, details } = await finishRun(publisher, subscribers);
      expect(check.problems, details).toEqual([]);
      expect(publisher.rejected, details).toEqual([]);
      for (const result of check.subscribers) {
        expect(result, details).toMatchObject({
          received: publisher.acks.length,
          lostButTold: 0,
          missing: 0,
        });
      }

      // Each client of A was told 3001 once, B's clients never; the closes were spread over the period.
      for (const subscriber of onA) {
        expect(subscriber.report().closes.map((close) => close.code)).toEqual([DisconnectCode.SHUTDOWN]);
      }
      for (const subscriber of onB) expect(subscriber.report().closes).toEqual([]);
      const times = onA.map((s) => (s.report().closes[0]?.at ?? 0) - startedAt).sort((x, y) => x - y);
      const expectedSpan = (DRAIN_MS * (onA.length - 1)) / onA.length;
      expect((times.at(-1) ?? 0) - (times[0] ?? 0), `closes at ${times.join(', ')} ms`).toBeGreaterThan(
        expectedSpan * 0.6,
      );
      expect(times.at(-1), `closes at ${times.join(', ')} ms`).toBeLessThan(DRAIN_MS + 1000);
      expect(closedAfter).toBeGreaterThanOrEqual(expectedSpan - 100);
    } finally {
      for (const subscriber of subscribers) subscriber.stop();
      await publisher?.stop(0);
      await balancer.close();
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});

/** A Redis engine whose next publish waits at the door until released, to catch it "in flight". */
class HeldRedisBroker extends RedisBroker {
  #door: { readonly entered: () => void; readonly released: Promise<void> } | undefined;

  /** Holds the next publish; resolves `entered` once it arrived, and lets it through on `release()`. */
  holdNextPublish(): { entered: Promise<void>; release: () => void } {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered = () => {};
    const arrived = new Promise<void>((resolve) => (entered = resolve));
    this.#door = { entered, released };
    return { entered: arrived, release };
  }

  override async publish(channel: string, options: PublishOptions): Promise<PublishResult> {
    const door = this.#door;
    this.#door = undefined;
    if (door !== undefined) {
      door.entered();
      await door.released;
    }
    return super.publish(channel, options);
  }
}

describe('publishes under way when shutdown begins', () => {
  let prefix: string;
  let server: HeraldServer;
  let broker: HeldRedisBroker;
  let reader: TestHerald;

  beforeAll(async () => {
    prefix = uniquePrefix();
    reader = await startTestHerald({ redisUrl: redis.url, redisPrefix: prefix, namespaces: NAMESPACES });
  });
  afterAll(async () => {
    await reader?.close();
  });

  async function startHeld(): Promise<void> {
    broker = new HeldRedisBroker({ url: redis.url, prefix });
    const config = testConfig({ redisUrl: redis.url, redisPrefix: prefix, namespaces: NAMESPACES });
    server = await startHerald(config, { logger: pino({ level: 'silent' }), broker });
  }

  it('answers and stores an HTTP publish that was in flight', async () => {
    await startHeld();
    const held = broker.holdNextPublish();
    const response = fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'feed:in-flight', data: { n: 1 } }),
    });
    await held.entered;
    const closing = server.close();
    expect(server.node.ready).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    held.release();
    const answer = await response;
    expect(answer.status).toBe(200);
    const { offset, epoch } = (await answer.json()) as { offset: number; epoch: string };
    await closing;
    const history = await reader.node.history('feed:in-flight');
    expect(history).toMatchObject({ offset, epoch });
    expect(history.publications.map((p) => p.data)).toEqual(['{"n":1}']);
  });

  it('moves SSE clients at once, since their commands cannot reach a node that stopped listening', async () => {
    const config = testConfig({ redisUrl: redis.url, redisPrefix: prefix, drainPeriodMs: 3000 });
    const draining = await startHerald(config, { logger: pino({ level: 'silent' }) });
    const token = await reader.token();
    const stream = await SseStream.open(`${draining.url}/connection/sse?${new URLSearchParams({ token })}`);
    await waitFor(() => stream.messages().length > 0, 3000, 'the connect reply');
    // Two WebSocket clients: with a 3 s period, the second leaves about 1.5 s in.
    const ws = await Promise.all(
      [1, 2].map(async () => {
        const client = await ProtocolClient.open(
          `${draining.url.replace(/^http/, 'ws')}/connection/websocket`,
        );
        await client.call('connect', { token });
        let closedAt: number | undefined;
        void client.closed.then(() => (closedAt = Date.now()));
        return () => closedAt;
      }),
    );
    const started = Date.now();
    const closing = draining.close();
    await stream.done;
    const sseClosedAfter = Date.now() - started;
    expect(sseClosedAfter).toBeLessThan(1000);
    await closing;
    const lastWsClosedAfter = Math.max(...ws.map((closedAt) => (closedAt() ?? Infinity) - started));
    expect(lastWsClosedAfter).toBeGreaterThan(sseClosedAfter);
    expect(lastWsClosedAfter).toBeGreaterThanOrEqual(1000);
  });

  it('answers a client publish that was in flight before closing its connection with 3001', async () => {
    await startHeld();
    const wsUrl = `${server.url.replace(/^http/, 'ws')}/connection/websocket`;
    const client = await ProtocolClient.open(wsUrl);
    await client.call('connect', { token: await reader.token() });
    const held = broker.holdNextPublish();
    const published = client.call('publish', { channel: 'chat:in-flight', data: { n: 1 } });
    await held.entered;
    const closing = server.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    held.release();
    const result = await published;
    expect((await client.closed).code).toBe(DisconnectCode.SHUTDOWN);
    await closing;
    const history = await reader.node.history('chat:in-flight');
    expect(history.publications).toHaveLength(1);
    expect(history.publications[0]).toMatchObject({ offset: result.offset, epoch: result.epoch });
  });
});

describe('herald serve on SIGTERM', () => {
  it('drains its clients and exits 0 within the drain period and a margin', async () => {
    const server = run(['serve', '--port', '0', '--log-level', 'info', '--drain-period', '1s'], {
      HERALD_API_KEY: TEST_API_KEY,
      HERALD_TOKEN_SECRET: TEST_TOKEN_SECRET,
    });
    try {
      await waitFor(() => server.stdout.includes('herald started'), 20_000, 'the server to start');
      const url = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(server.stdout)?.[1] ?? '';
      const token = await mintToken(TEST_TOKEN_SECRET, { user: 'alice' });
      const clients = await Promise.all(
        [1, 2, 3].map(async () => {
          const client = await ProtocolClient.open(`${url.replace(/^http/, 'ws')}/connection/websocket`);
          await client.call('connect', { token });
          return client;
        }),
      );
      const startedAt = Date.now();
      server.child.kill('SIGTERM');
      expect(await finished(server)).toBe(0);
      expect(Date.now() - startedAt).toBeLessThan(1000 + 5000);
      for (const client of clients) expect((await client.closed).code).toBe(DisconnectCode.SHUTDOWN);
      const draining = logLines(server).find((line) => line['msg'] === 'draining');
      expect(draining).toMatchObject({ clients: 3, drainPeriodMs: 1000 });
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 40_000);
});
