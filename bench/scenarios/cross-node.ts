/**
 * `cross-node`: two nodes and Redis (standalone, then a 3-master Cluster), publisher on node 1 and
 * subscribers on node 2: the highest delivery rate sustained, and latency at a fixed load.
 */
import { parseArgs } from 'node:util';
import { intFlag, intListFlag } from '../lib/args.ts';
import { runComparison, type ComparisonCase } from '../lib/comparison.ts';
import type { ResultRow, Scenario, ScenarioResult } from '../lib/scenario.ts';
import { SUSTAINED_P99_MS } from '../lib/steps.ts';
import type { Broker } from '../lib/systems.ts';
import { COMPARISON_OPTIONS, comparisonSettings } from './fanout.ts';

const OPTIONS = {
  ...COMPARISON_OPTIONS,
  subscribers: { type: 'string' },
  'latency-subscribers': { type: 'string' },
  rates: { type: 'string' },
  brokers: { type: 'string' },
} as const;

export const crossNode: Scenario = {
  name: 'cross-node',
  description:
    'Two nodes sharing Redis (standalone, and a 3-master Redis Cluster): the publisher sends to node 1, ' +
    'every subscriber is on node 2, so each publication crosses Redis. Herald on the Redis engine; ' +
    'Socket.IO with `@socket.io/redis-adapter` (the sharded adapter on the Cluster). A ladder of rates ' +
    'finds the highest rate sustained with p99 under 250 ms; fixed rates give latency percentiles.',
  options: OPTIONS,
  prepare(args, context) {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    const common = comparisonSettings(values, context.quick);
    const subscribers = intFlag('subscribers', values.subscribers, context.quick ? 500 : 1000, 1, 18_000);
    const latencySubscribers = intFlag(
      'latency-subscribers',
      values['latency-subscribers'],
      context.quick ? 1000 : 10_000,
      1,
      18_000,
    );
    const rates = intListFlag('rates', values.rates, context.quick ? [10] : [10, 50], 1, 100_000);
    const brokers = (values.brokers ?? (context.quick ? 'redis' : 'redis,redis-cluster')).split(',');
    for (const broker of brokers)
      if (broker !== 'redis' && broker !== 'redis-cluster')
        throw new RangeError(`--brokers takes redis and redis-cluster; got ${JSON.stringify(broker)}`);
    const throughputCase = (broker: string): ComparisonCase => ({
      key: `${broker}-${subscribers}`,
      title: `${broker === 'redis' ? 'Redis' : 'Redis Cluster (3 masters)'}: ${subscribers.toLocaleString('en')} subscribers, highest rate sustained with p99 under ${SUSTAINED_P99_MS} ms`,
      params: { subscribers, broker, nodes: 2 },
      subscriberChannels: Array.from({ length: subscribers }, () => 'cross'),
      publishChannels: ['cross'],
      fanout: subscribers,
      maxP99Ms: SUSTAINED_P99_MS,
      ladder: {
        startRate: Math.max(1, Math.round((context.quick ? 100_000 : 50_000) / subscribers)),
        factor: context.quick ? 4 : 2,
        maxRate: 6_400_000 / subscribers,
        maxSteps: context.quick ? 2 : 10,
      },
    });
    const latencyCase: ComparisonCase = {
      key: `redis-latency-${latencySubscribers}`,
      title: `Redis: ${latencySubscribers.toLocaleString('en')} subscribers, latency at fixed rates`,
      params: { subscribers: latencySubscribers, broker: 'redis', nodes: 2 },
      subscriberChannels: Array.from({ length: latencySubscribers }, () => 'latency'),
      publishChannels: ['latency'],
      fanout: latencySubscribers,
      rates,
      batch: 1,
    };
    return async () => {
      const results: ScenarioResult[] = [];
      for (const broker of brokers as Broker[]) {
        const cases = broker === 'redis' ? [throughputCase(broker), latencyCase] : [throughputCase(broker)];
        results.push(
          await runComparison(
            {
              scenario: 'cross-node',
              ...common,
              systems: common.systems.filter((system) => system === 'herald' || system === 'socket.io'),
              topology: { nodes: 2, broker },
              subscriberNode: 1,
              publisherNode: 0,
              processes: 3,
              cases,
            },
            context,
          ),
        );
      }
      return mergeResults(results);
    };
  },
};

function mergeResults(results: readonly ScenarioResult[]): ScenarioResult {
  const rows: ResultRow[] = results.flatMap((result) => result.rows);
  return {
    rows,
    report: results.map((result) => result.report).join('\n\n'),
    summary: results.flatMap((result) => result.summary),
    files: Object.assign({}, ...results.map((result) => result.files ?? {})) as Record<string, string>,
    versions: Object.assign({}, ...results.map((result) => result.versions ?? {})) as Record<string, string>,
  };
}
