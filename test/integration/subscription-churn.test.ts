/**
 * Many clients subscribing and unsubscribing the same few channels as fast as they can, some of them
 * dropping their connection midway: afterwards the node's Redis subscriptions are exactly the channels
 * that still have subscribers, every remaining subscriber receives, and nothing leaks once all leave.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeraldConfig } from '../../src/config/config.ts';
import { RedisKeys } from '../../src/engine/redis/keys.ts';
import type { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { useRedisTopologies } from '../helpers/redis-topologies.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

const CLIENTS = 40;
const STEPS = 40;
const CHANNELS = ['churn:a', 'churn:b', 'churn:c', 'churn:d', 'churn:e'];

const redis = useRedisTopologies();

const topologies: [string, () => Partial<HeraldConfig>, () => Promise<string[]>][] = [
  [
    'redis',
    () => ({ redisUrl: redis.redis.url }),
    async () => [(await redis.redis.command('PUBSUB', 'CHANNELS', '*')).trim()],
  ],
  [
    'redis cluster',
    () => ({ redisClusterNodes: redis.cluster.seeds }),
    () =>
      Promise.all(
        redis.cluster.nodes.map(async (node) => (await node.command('PUBSUB', 'SHARDCHANNELS', '*')).trim()),
      ),
  ],
];

describe.each(topologies)('subscription churn on %s', (_name, engine, pubsubChannels) => {
  let a: TestHerald;
  let b: TestHerald;
  let keys: RedisKeys;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    keys = new RedisKeys(prefix);
    [a, b] = await Promise.all([
      startTestHerald({ ...engine(), redisPrefix: prefix }),
      startTestHerald({ ...engine(), redisPrefix: prefix }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  /**
   * The Herald channels node B's prefix has Redis pub/sub subscriptions for, on any Redis node;
   * without each node's own delivery canary (`$herald:canary:<node>`), which it holds all its life.
   */
  async function subscribedInRedis(): Promise<string[]> {
    const names = (await pubsubChannels()).flatMap((text) => text.split('\n')).filter((name) => name !== '');
    return names
      .map((name) => keys.channelOfPubsub(name))
      .filter((channel): channel is string => channel !== undefined && !channel.startsWith('$herald:canary:'))
      .sort();
  }

  it('leaves the engine subscribed exactly to the channels that still have subscribers', async () => {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => b.client()));
    const held = clients.map(() => new Set<string>());
    const dropped = new Set<number>();
    await Promise.all(
      clients.map(async (client, i) => {
        const mine = held[i] ?? new Set<string>();
        for (let step = 0; step < STEPS; step++) {
          const channel = CHANNELS[Math.floor(Math.random() * CHANNELS.length)] ?? 'churn:a';
          const subscribed = mine.has(channel);
          // Fire without waiting now and then, so commands pile up on the server.
          const call = subscribed
            ? client.call('unsubscribe', { channel })
            : client.call('subscribe', { channel });
          if (subscribed) mine.delete(channel);
          else mine.add(channel);
          if (Math.random() < 0.5) await call;
          else void call.catch(() => undefined);
          if (i % 10 === 0 && step === STEPS / 2) {
            client.ws.terminate();
            dropped.add(i);
            return;
          }
        }
        await client.call('ping', {});
      }),
    );
    const remaining = clients.map((client, i) => ({
      client,
      channels: dropped.has(i) ? new Set<string>() : (held[i] ?? new Set()),
    }));
    const expected = [...new Set(remaining.flatMap(({ channels }) => [...channels]))].sort();
    await waitFor(
      () => b.node.localChannels().channels.length === expected.length,
      5000,
      'the dropped clients to leave',
    );
    expect(b.node.localChannels().channels.map((summary) => summary.channel)).toEqual(expected);
    // Node A holds no subscriptions: what Redis shows for the prefix is node B's alone.
    await expectEventually(subscribedInRedis, expected);

    const received = remaining.map(() => new Set<string>());
    remaining.forEach(({ client }, i) => client.onPublication((channel) => received[i]?.add(channel)));
    for (const channel of CHANNELS) await a.publish(channel, { channel });
    await waitFor(
      () => remaining.every(({ channels }, i) => received[i]?.size === channels.size),
      5000,
      'every remaining subscriber to receive',
    );
    remaining.forEach(({ channels }, i) => expect(received[i]).toEqual(channels));

    for (const { client } of remaining) closeQuietly(client);
    await expectEventually(subscribedInRedis, []);
  }, 30_000);
});

function closeQuietly(client: ProtocolClient): void {
  if (client.ws.readyState === client.ws.OPEN) client.close();
}

/** Polls `read` until it equals `expected` (or fails with the last value after 5 s). */
async function expectEventually<T>(read: () => Promise<T>, expected: T): Promise<void> {
  const deadline = Date.now() + 5000;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  expect(last).toEqual(expected);
}
