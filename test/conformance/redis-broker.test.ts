import { afterAll, beforeAll } from 'vitest';
import { brokerConformance } from './broker-conformance.ts';
import { RedisBroker } from '../../src/engine/redis/redis-broker.ts';
import {
  startRedis,
  startRedisCluster,
  uniquePrefix,
  type RedisCluster,
  type RedisServer,
} from '../helpers/redis.ts';

let redis: RedisServer;
let cluster: RedisCluster;

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

brokerConformance('redis', async () => new RedisBroker({ url: redis.url, prefix: uniquePrefix() }));
brokerConformance(
  'redis cluster',
  async () => new RedisBroker({ clusterNodes: cluster.seeds, prefix: uniquePrefix() }),
);
