/**
 * A node checks its own delivery path against the network faults no connection error reports
 * (test/helpers/fault-proxy.ts puts them between the node and Redis): a subscriber connection that
 * stays open but passes nothing on, connections that became black holes, and a network stall. Each
 * time the node notices within its delivery check's timeout, reports not ready, counts it, replaces
 * what is dead, and its subscribers get every publication made meanwhile — exactly once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import type { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';

const CHECK_MS = 200;
/** Noticed within the check's timeout (3 intervals), plus one interval and some slack. */
const NOTICE_MS = 4 * CHECK_MS + 500;

let redis: RedisServer;
let proxy: FaultProxy;
/** The watched node's warnings (JSON lines). */
const warnings: string[] = [];
let watched: TestHerald;
let publisher: TestHerald;
beforeAll(async () => {
  redis = await startRedis();
  proxy = await startFaultProxy({ host: '127.0.0.1', port: redis.port });
  const prefix = uniquePrefix();
  const namespaces = { feed: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 1000 } };
  watched = await startTestHerald(
    {
      redisUrl: proxy.url,
      redisPrefix: prefix,
      namespaces,
      deliveryCheckIntervalMs: CHECK_MS,
      positionCheckIntervalMs: 60_000,
    },
    { logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }) },
  );
  publisher = await startTestHerald({ redisUrl: redis.url, redisPrefix: prefix, namespaces });
}, 30_000);
afterAll(async () => {
  await watched?.close();
  await publisher?.close();
  await proxy?.close();
  await redis?.stop();
});

/** A subscriber of `channel` on the watched node, recording the offsets it receives. */
async function subscriber(channel: string): Promise<{ client: ProtocolClient; offsets: number[] }> {
  const client = await watched.client();
  const offsets: number[] = [];
  client.onMessage((message) => {
    const pub = (message as { push?: { channel?: string; pub?: { offset?: number } } }).push?.pub;
    if (pub?.offset !== undefined) offsets.push(pub.offset);
  });
  await client.call('subscribe', { channel });
  return { client, offsets };
}

/** Polls the watched node's `/readyz`: when it first answered 503, and when 200 again after that. */
function watchReadiness() {
  const seen: { notReadyAt?: number; readyAgainAt?: number } = {};
  const timer = setInterval(() => {
    void fetch(`${watched.url}/readyz`).then(
      (response) => {
        if (response.status === 503) seen.notReadyAt ??= Date.now();
        else if (seen.notReadyAt !== undefined) seen.readyAgainAt ??= Date.now();
      },
      () => undefined,
    );
  }, 25);
  return { seen, stop: () => clearInterval(timer) };
}

/**
 * Publishes through the other node while `fault` runs and the watched node recovers; then every
 * publication must have reached the subscriber, once, in order. Returns when the fault began.
 */
async function survives(channel: string, fault: () => Promise<void> | void): Promise<number> {
  const { client, offsets } = await subscriber(channel);
  let published = 0;
  const publish = async () => {
    published += 1;
    await publisher.publish(channel, { n: published });
  };
  for (let i = 0; i < 20; i++) await publish();
  await waitFor(() => offsets.length === 20, 5000, 'the first publications');

  const readiness = watchReadiness();
  const publishing = setInterval(() => void publish(), 20);
  const faultAt = Date.now();
  try {
    await fault();
    await waitFor(() => readiness.seen.readyAgainAt !== undefined, 15_000, 'not ready, then ready again');
  } finally {
    clearInterval(publishing);
    readiness.stop();
  }
  await waitFor(() => offsets.length === published, 10_000, 'every publication');
  expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  expect((readiness.seen.notReadyAt ?? Infinity) - faultAt).toBeLessThan(NOTICE_MS);
  client.close();
  return faultAt;
}

describe('delivery health', () => {
  it('notices a silenced subscriber connection, reports not ready, renews it, and loses nothing', async () => {
    await survives('feed:silenced', () => {
      expect(proxy.silenceSubscribers()).toBe(1);
    });
    const metrics = await (await fetch(`${watched.url}/metrics`)).text();
    expect(metrics).toMatch(/^herald_delivery_check_failures_total [1-9]/m);
    expect(warnings.join('')).toContain('delivery path broken');
    expect(metrics).toMatch(/^herald_delivery_lag_seconds_count\{path="live"\} [1-9]/m);
  }, 30_000);

  it('replaces both connections when they become black holes, and publishes fail fast meanwhile', async () => {
    let publishOutcome: { status: number; code: string | undefined; ms: number } | undefined;
    await survives('feed:dropped', async () => {
      // The commands connection and the subscriber connection.
      expect(proxy.dropConnections()).toBe(2);
      const startedAt = Date.now();
      const response = await fetch(`${watched.url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `apikey ${watched.config.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'feed:other', data: 1 }),
      });
      const body = (await response.json()) as { error?: { code?: string } };
      publishOutcome = { status: response.status, code: body.error?.code, ms: Date.now() - startedAt };
    });
    // Refused at once (not ready) or after the command timeout (5 s), never hanging; or stored, if the
    // commands connection was already replaced.
    expect(publishOutcome?.ms).toBeLessThan(6000);
    if (publishOutcome?.status !== 200)
      expect(publishOutcome).toMatchObject({ status: 503, code: 'HERALD_ERR_ENGINE_UNAVAILABLE' });
    // The operator can see what happened.
    expect(warnings.join('')).toContain('the commands connection was replaced by a new one that answers');
    // And the node publishes again through its new commands connection.
    await expect(watched.publish('feed:other', 2)).resolves.toMatchObject({ offset: expect.any(Number) });
  }, 30_000);

  it('rides out a network stall: not ready while it lasts, everything delivered after', async () => {
    await survives('feed:stalled', async () => {
      proxy.pause();
      // Longer than the delivery check's timeout plus the commands connection's PING (2 s): the node
      // tries new connections, which the stalled network holds too, until it ends.
      await sleep(3 * CHECK_MS + 3500);
      proxy.resume();
    });
    // Nothing is left dangling: the node publishes at once.
    await expect(watched.publish('feed:stalled', 'after')).resolves.toMatchObject({
      offset: expect.any(Number),
    });
  }, 30_000);
});
