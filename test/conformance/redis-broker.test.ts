import { brokerConformance } from './broker-conformance.ts';
import { RedisBroker } from '../../src/engine/redis/redis-broker.ts';
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
