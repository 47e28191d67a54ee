/** `fanout`: one channel, 1,000 and 10,000 subscribers on one node, publishers at increasing rates. */
import { parseArgs } from 'node:util';
import { intFlag, intListFlag, numberFlag, systemsFlag } from '../lib/args.ts';
import { runComparison, type ComparisonCase } from '../lib/comparison.ts';
import type { Scenario } from '../lib/scenario.ts';

export const COMPARISON_OPTIONS = {
  runs: { type: 'string' },
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  systems: { type: 'string' },
  batch: { type: 'string' },
  payload: { type: 'string' },
} as const;

const OPTIONS = {
  ...COMPARISON_OPTIONS,
  subscribers: { type: 'string' },
  rates: { type: 'string' },
} as const;

export const fanout: Scenario = {
  name: 'fanout',
  description:
    'One channel with 1,000 and 10,000 subscribers on one node (Herald on the memory engine, Socket.IO ' +
    'without adapter, and the raw `ws` ceiling with one message per frame and batched); ~100-byte JSON ' +
    'messages published over HTTP at doubling rates; deliveries/s counted at the subscribers.',
  options: OPTIONS,
  prepare(args, context) {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    const sizes = intListFlag(
      'subscribers',
      values.subscribers,
      context.quick ? [1000] : [1000, 10_000],
      1,
      18_000,
    );
    const common = comparisonSettings(values, context.quick);
    // `--rates`: fixed rates (publications/s) instead of the ladder, e.g. to compare server CPU at one load.
    const rates =
      values.rates === undefined ? undefined : intListFlag('rates', values.rates, [], 1, 1_000_000);
    const cases: ComparisonCase[] = sizes.map((subscribers) => ({
      key: `${subscribers}`,
      title: `${subscribers.toLocaleString('en')} subscribers`,
      params: { subscribers, channels: 1 },
      subscriberChannels: Array.from({ length: subscribers }, () => 'fanout'),
      publishChannels: ['fanout'],
      fanout: subscribers,
      ...(rates !== undefined
        ? { rates }
        : {
            ladder: {
              startRate: Math.max(1, Math.round(100_000 / subscribers)),
              factor: context.quick ? 4 : 2,
              maxRate: 25_600_000 / subscribers,
              maxSteps: context.quick ? 2 : 10,
            },
          }),
    }));
    return () =>
      runComparison(
        {
          scenario: 'fanout',
          ...common,
          topology: { nodes: 1, broker: 'none' },
          subscriberNode: 0,
          publisherNode: 0,
          cases,
          processes: 2,
        },
        context,
      );
  },
};

/** The flags every throughput comparison shares, with their defaults. */
export function comparisonSettings(
  values: Partial<Record<keyof typeof COMPARISON_OPTIONS, string>>,
  quick: boolean,
) {
  return {
    runs: intFlag('runs', values.runs, quick ? 1 : 3, 1, 20),
    seconds: numberFlag('seconds', values.seconds, quick ? 1 : 4, 0.5, 600),
    warmupSeconds: numberFlag('warmup', values.warmup, quick ? 0.3 : 1, 0, 60),
    systems: systemsFlag(values.systems, ['herald', 'socket.io', 'ws-frame', 'ws-batch']),
    batch: intFlag('batch', values.batch, 10, 1, 1000),
    payloadBytes: intFlag('payload', values.payload, 100, 40, 65_536),
  };
}
