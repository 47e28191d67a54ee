/**
 * A node checks its own delivery path: a stalled proxy between it and Redis keeps its subscriber
 * connection open but passes nothing on. The node notices within its delivery check's timeout,
 * reports not ready, counts it, renews the connection, and its subscribers get every publication
 * made meanwhile — exactly once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { startStallingProxy, type StallingProxy } from '../helpers/stalling-proxy.ts';

const CHECK_MS = 200;
let redis: RedisServer;
let proxy: StallingProxy;
beforeAll(async () => {
  redis = await startRedis();
  proxy = await startStallingProxy({ host: '127.0.0.1', port: redis.port });
}, 30_000);
afterAll(async () => {
  await proxy?.close();
  await redis?.stop();
});

describe('delivery health', () => {
  let watched: TestHerald;
  let publisher: TestHerald;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    const namespaces = { feed: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 1000 } };
    watched = await startTestHerald({
      redisUrl: proxy.url,
      redisPrefix: prefix,
      namespaces,
      deliveryCheckIntervalMs: CHECK_MS,
      positionCheckIntervalMs: 60_000,
    });
    publisher = await startTestHerald({ redisUrl: redis.url, redisPrefix: prefix, namespaces });
  });
  afterAll(async () => {
    await watched?.close();
    await publisher?.close();
  });

  it('notices a stalled subscriber connection, reports not ready, repairs it, and loses nothing', async () => {
    const channel = 'feed:stall';
    const client = await watched.client();
    const offsets: number[] = [];
    client.onMessage((message) => {
      const pub = (message as { push?: { channel?: string; pub?: { offset?: number } } }).push?.pub;
      if (pub?.offset !== undefined) offsets.push(pub.offset);
    });
    await client.call('subscribe', { channel });

    let published = 0;
    const publish = async () => {
      published += 1;
      await publisher.publish(channel, { n: published });
    };
    for (let i = 0; i < 20; i++) await publish();
    await waitFor(() => offsets.length === 20, 5000, 'the first publications');

    expect(proxy.stallSubscribers()).toBe(1);
    const stalledAt = Date.now();
    let notReadyAt: number | undefined;
    let readyAgainAt: number | undefined;
    const readiness = setInterval(() => {
      void fetch(`${watched.url}/readyz`).then((response) => {
        if (response.status === 503) notReadyAt ??= Date.now();
        else if (notReadyAt !== undefined) readyAgainAt ??= Date.now();
      });
    }, 25);
    const publishing = setInterval(() => void publish(), 20);
    try {
      await waitFor(() => readyAgainAt !== undefined, 10_000, 'the node to report not ready and recover');
    } finally {
      clearInterval(publishing);
      clearInterval(readiness);
    }
    await waitFor(() => offsets.length === published, 10_000, 'every publication');
    expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    // Noticed within the check's timeout (3 intervals) plus one interval and some slack.
    expect((notReadyAt ?? Infinity) - stalledAt).toBeLessThan(4 * CHECK_MS + 500);
    const metrics = await (await fetch(`${watched.url}/metrics`)).text();
    expect(metrics).toMatch(/^herald_delivery_check_failures_total [1-9]/m);
    expect(metrics).toMatch(/^herald_delivery_lag_seconds_count\{path="live"\} [1-9]/m);
    client.close();
  }, 30_000);
});
