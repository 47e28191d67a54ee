import { brokerConformance } from './broker-conformance.ts';
import { RedisBroker } from '../../src/engine/redis/redis-broker.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { useRedisTopologies } from '../helpers/redis-topologies.ts';

const topologies = useRedisTopologies();

brokerConformance(
  'redis',
  async () => new RedisBroker({ url: topologies.redis.url, prefix: uniquePrefix() }),
);
brokerConformance(
  'redis cluster',
  async () => new RedisBroker({ clusterNodes: topologies.cluster.seeds, prefix: uniquePrefix() }),
);
