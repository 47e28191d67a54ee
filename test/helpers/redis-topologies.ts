/** One standalone Redis and one 3-master Redis Cluster per test file, started before and stopped after. */
import { afterAll, beforeAll } from 'vitest';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './redis.ts';

export interface RedisTopologies {
  readonly redis: RedisServer;
  readonly cluster: RedisCluster;
}

export function useRedisTopologies(): RedisTopologies {
  let redis: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), cluster?.stop()]);
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('Redis is not started yet: use it inside tests or hooks');
    return value;
  };
  return {
    get redis() {
      return started(redis);
    },
    get cluster() {
      return started(cluster);
    },
  };
}
