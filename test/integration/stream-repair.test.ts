/**
 * A node repairs what pub/sub lost. Losses are made exactly: a publication is stored by the real
 * publish script but sent to a pub/sub channel nobody listens to, as if the message was lost on the
 * way; a failover that lost acknowledged writes is made by rewinding the channel's offset in Redis.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode, type PublicationFrame } from '@herald/protocol';
import type { HeraldConfig } from '../../src/config/config.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { RedisKeys } from '../../src/engine/redis/keys.ts';
import { encodeTail } from '../../src/engine/redis/payload.ts';
import type { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { useRedisTopologies } from '../helpers/redis-topologies.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

const PUBLISH_SCRIPT = readFileSync(
  new URL('../../src/engine/redis/scripts/publish.lua', import.meta.url),
  'utf8',
);

const redis = useRedisTopologies();

interface Topology {
  readonly config: () => Partial<HeraldConfig>;
  /** The Redis process holding a channel's keys. */
  readonly serverFor: (channel: string) => Promise<RedisServer>;
  readonly sharded: boolean;
}

const topologies: [string, Topology][] = [
  [
    'redis',
    {
      config: () => ({ redisUrl: redis.redis.url }),
      serverFor: async () => redis.redis,
      sharded: false,
    },
  ],
  [
    'redis cluster',
    {
      config: () => ({ redisClusterNodes: redis.cluster.seeds }),
      serverFor: (channel) => redis.cluster.masterFor(`{${channel}}`),
      sharded: true,
    },
  ],
];

describe.each(topologies)('stream repair on %s', (_name, topology) => {
  let herald: TestHerald;
  let keys: RedisKeys;
  let counter = 0;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    keys = new RedisKeys(prefix);
    herald = await startTestHerald({ ...topology.config(), redisPrefix: prefix });
  });
  afterAll(async () => {
    await herald?.close();
  });

  /** Stores a publication exactly as a publish does, but its pub/sub message reaches no one. */
  async function publishLost(channel: string, data: unknown): Promise<void> {
    const server = await topology.serverFor(channel);
    await server.command(
      'EVAL',
      PUBLISH_SCRIPT,
      '3',
      keys.stream(channel),
      keys.meta(channel),
      keys.idempotency(channel, ''),
      `${keys.pubsub(channel)}:nobody`,
      encodeTail(Date.now(), undefined, JSON.stringify(data)),
      '100',
      '600000',
      '86400000',
      'unused-epoch',
      '300000',
      topology.sharded ? '1' : '0',
      '0',
    );
  }

  async function subscriber(channel: string): Promise<{ client: ProtocolClient; offsets: number[] }> {
    const client = await herald.client();
    const offsets: number[] = [];
    client.onPublication((_channel, pub: PublicationFrame) => offsets.push(pub.offset ?? -1));
    await client.call('subscribe', { channel });
    return { client, offsets };
  }

  const fresh = () => `chat:repair-${++counter}`;

  /**
   * What the node's periodic checks do once a channel went quiet: a round after live traffic only
   * notes it (a loss there shows as a gap in the next live publication); the next round looks.
   */
  async function checkQuietChannels(): Promise<void> {
    await herald.node.checkStreams();
    await herald.node.checkStreams();
  }

  it('fills a publication lost in pub/sub from the history when the next one reveals the gap', async () => {
    const channel = fresh();
    const { client, offsets } = await subscriber(channel);
    await herald.publish(channel, { n: 1 });
    await publishLost(channel, { n: 2 });
    await publishLost(channel, { n: 3 });
    await herald.publish(channel, { n: 4 });
    await waitFor(() => offsets.length === 4);
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(herald.node.insufficientStateDisconnects).toBe(0);
    client.close();
  });

  it('finds a lost last publication with a position check', async () => {
    const channel = fresh();
    const { client, offsets } = await subscriber(channel);
    await herald.publish(channel, { n: 1 });
    await publishLost(channel, { n: 2 });
    await checkQuietChannels();
    await waitFor(() => offsets.length === 2);
    expect(offsets).toEqual([1, 2]);
    client.close();
  });

  it('makes subscribers recover when the history cannot fill the gap', async () => {
    const channel = fresh();
    const { client, offsets } = await subscriber(channel);
    const first = await herald.publish(channel, { n: 1 });
    await publishLost(channel, { n: 2 });
    await (await topology.serverFor(channel)).command('DEL', keys.stream(channel));
    await herald.publish(channel, { n: 3 });
    const closed = await client.closed;
    expect(closed.code).toBe(DisconnectCode.INSUFFICIENT_STATE);
    expect(offsets).toEqual([1]);
    const again = await herald.client();
    const result = await again.call('subscribe', {
      channel,
      since: { offset: 1, epoch: first.epoch ?? '' },
    });
    expect(result).toMatchObject({ recovered: false, offset: 3, epoch: first.epoch });
    again.close();
  });

  it('ends the epoch of a history that went backwards, so no client recovers across the rewrite', async () => {
    const channel = fresh();
    const { client, offsets } = await subscriber(channel);
    let last: { offset?: number; epoch?: string } = {};
    for (let n = 1; n <= 5; n++) last = await herald.publish(channel, { n });
    await waitFor(() => offsets.length === 5);
    // What a failover that lost the last three acknowledged writes leaves behind.
    const server = await topology.serverFor(channel);
    await server.command('HSET', keys.meta(channel), 'o', '2');
    await server.command('DEL', keys.stream(channel));
    for (const offset of ['1', '2'])
      await server.command('XADD', keys.stream(channel), `${offset}-0`, 'p', 'x');
    await herald.publish(channel, { n: 'reused offset 3' });
    const closed = await client.closed;
    expect(closed.code).toBe(DisconnectCode.INSUFFICIENT_STATE);
    expect(offsets).toEqual([1, 2, 3, 4, 5]);
    // The node ends the rewritten epoch in Redis right after closing its subscribers.
    for (let i = 0; i < 100 && (await server.command('HGET', keys.meta(channel), 'e')) === last.epoch; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const again = await herald.client();
    const result = await again.call('subscribe', { channel, since: { offset: 5, epoch: last.epoch ?? '' } });
    expect(result.recovered).toBe(false);
    expect(result.epoch).not.toBe(last.epoch);
    again.close();
  });

  it('reads a new epoch from its start when Redis lost the channel and the first new publications too', async () => {
    const channel = fresh();
    const old = await subscriber(channel);
    const first = await herald.publish(channel, { n: 1 });
    await waitFor(() => old.offsets.length === 1);
    const server = await topology.serverFor(channel);
    await server.command('DEL', keys.stream(channel), keys.meta(channel)); // Redis lost the channel
    const newcomer = await subscriber(channel); // its read starts a new epoch at offset 0
    await publishLost(channel, { n: 'new 1' });
    await publishLost(channel, { n: 'new 2' });
    await checkQuietChannels();
    await waitFor(() => newcomer.offsets.length === 2);
    expect(newcomer.offsets).toEqual([1, 2]);
    expect((await old.client.closed).code).toBe(DisconnectCode.INSUFFICIENT_STATE);
    const again = await herald.client();
    const result = await again.call('subscribe', { channel, since: { offset: 1, epoch: first.epoch ?? '' } });
    expect(result).toMatchObject({ recovered: false, offset: 2 });
    again.close();
    newcomer.client.close();
  });

  it('makes subscribers recover when a lost last publication is no longer in the history', async () => {
    const channel = fresh();
    const { client, offsets } = await subscriber(channel);
    await herald.publish(channel, { n: 1 });
    await waitFor(() => offsets.length === 1);
    await publishLost(channel, { n: 2 });
    await (await topology.serverFor(channel)).command('DEL', keys.stream(channel));
    await checkQuietChannels();
    expect((await client.closed).code).toBe(DisconnectCode.INSUFFICIENT_STATE);
    expect(offsets).toEqual([1]);
  });
});

describe('nodes that disagree about a namespace keeping history', () => {
  it('delivers to subscribers of a node that keeps none what another node publishes with positions', async () => {
    const prefix = uniquePrefix();
    const withHistory = await startTestHerald({ redisUrl: redis.redis.url, redisPrefix: prefix });
    const without = await startTestHerald({
      redisUrl: redis.redis.url,
      redisPrefix: prefix,
      namespaces: { chat: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 0 } },
    });
    try {
      const client = await without.client();
      const received: number[] = [];
      client.onPublication((_channel, pub) => received.push(pub.offset ?? 0));
      expect(await client.call('subscribe', { channel: 'chat:mixed' })).toEqual({ recoverable: false });
      for (let n = 1; n <= 3; n++) await withHistory.publish('chat:mixed', { n });
      await waitFor(() => received.length === 3);
      expect(received).toEqual([1, 2, 3]);
      client.close();
    } finally {
      await Promise.all([withHistory.close(), without.close()]);
    }
  });
});
