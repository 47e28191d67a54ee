import { describe, expect, it } from 'vitest';
import { brokerConformance } from './broker-conformance.ts';
import { PartialBatchError } from '../../src/engine/broker.ts';
import { BATCH_CHUNK_ITEMS, RedisBroker } from '../../src/engine/redis/redis-broker.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { useRedisTopologies } from '../helpers/redis-topologies.ts';

const topologies = useRedisTopologies();

// Each run of the suite gets its own prefix; brokers of one test share their scope within it.
const run = uniquePrefix();
brokerConformance(
  'redis',
  async (scope) => new RedisBroker({ url: topologies.redis.url, prefix: run + scope }),
);
brokerConformance(
  'redis cluster',
  async (scope) => new RedisBroker({ clusterNodes: topologies.cluster.seeds, prefix: run + scope }),
);

describe.each(['redis', 'redis cluster'])('%s broker, a batch in several steps', (name) => {
  it('reports what the steps before a failed one published, and attempts nothing after it', async () => {
    const prefix = `${run}steps-${name.length}:`;
    const broker =
      name === 'redis'
        ? new RedisBroker({ url: topologies.redis.url, prefix })
        : new RedisBroker({ clusterNodes: topologies.cluster.seeds, prefix });
    await broker.start(
      { onPublication: () => undefined, onControl: () => undefined, onDeliveryInterrupted: () => undefined },
      'node',
    );
    try {
      const channel = 'steps:1';
      // An idempotency key holding a hash makes the second step's script fail before it writes.
      const badKey = `${prefix}i:{${channel}}:bad`;
      const server = name === 'redis' ? topologies.redis : await topologies.cluster.masterFor(badKey);
      await server.command('HSET', badKey, 'f', 'v');
      const items = Array.from({ length: BATCH_CHUNK_ITEMS * 2 + 10 }, (_, i) =>
        i === BATCH_CHUNK_ITEMS + 5 ? { data: String(i), idempotencyKey: 'bad' } : { data: String(i) },
      );
      const history = { size: 1000, ttlMs: 60_000 };
      const failure = await broker.publishBatch(channel, items, { history }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(PartialBatchError);
      const { published, code } = failure as PartialBatchError;
      expect(code).toBe('HERALD_ERR_INTERNAL');
      expect(published.map((r) => r.position?.offset)).toEqual(
        Array.from({ length: BATCH_CHUNK_ITEMS }, (_, i) => i + 1),
      );
      const stored = await broker.history(channel, { limit: 1000, reverse: false, history });
      expect(stored.position.offset).toBe(BATCH_CHUNK_ITEMS);
    } finally {
      await broker.close();
    }
  });
});
