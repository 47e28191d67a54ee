/** The scenarios `npm run bench` knows, in the order it runs them. */
import { parseArgs } from 'node:util';
import { crossNode } from './cross-node.ts';
import { FANOUT_OPTIONS, runFanout, type FanoutOptions } from './fanout-smoke.ts';
import { intFlag, numberFlag } from './lib/args.ts';
import { markdownTable } from './lib/results.ts';
import type { ResultRow, Scenario, ScenarioContext, ScenarioResult } from './lib/scenario.ts';

/** `bench/fanout-smoke.ts` as a scenario: its figures as rows and a report section. */
const fanout: Scenario = {
  name: 'fanout',
  description:
    'One Herald node on the memory engine (separate process); WebSocket subscribers of one channel and ' +
    'closed-loop HTTP publishers (`fetch`) in the load process: publications/s accepted and messages/s delivered.',
  options: FANOUT_OPTIONS,
  prepare(args, context) {
    const { values } = parseArgs({ args, options: FANOUT_OPTIONS, strict: true, allowPositionals: false });
    const options = {
      subscribers: intFlag('subscribers', values.subscribers, context.quick ? 200 : 1000, 1, 100_000),
      seconds: numberFlag('seconds', values.seconds, context.quick ? 3 : 10, 0.5, 600),
      publishers: intFlag('publishers', values.publishers, 8, 1, 1024),
    };
    return () => runFanoutScenario(options, context);
  },
};

async function runFanoutScenario(options: FanoutOptions, context: ScenarioContext): Promise<ScenarioResult> {
  context.log(
    `fanout: ${options.subscribers} subscribers, ${options.publishers} publishers, ${options.seconds} s`,
  );
  const result = await runFanout(options);
  const params = { ...options, nodes: 1, engine: 'memory', quick: context.quick };
  const row = (metric: string, value: number, unit: string): ResultRow => ({
    ...{ scenario: 'fanout', system: 'herald' },
    ...{ metric, value, unit, params },
  });
  const undelivered = Math.max(0, result.expected - result.delivered);
  return {
    rows: [
      row('publications_per_s', result.publicationsPerSecond, '1/s'),
      row('deliveries_per_s', result.deliveredPerSecond, '1/s'),
      row('undelivered', undelivered, 'count'),
    ],
    report: markdownTable(
      ['subscribers', 'publishers', 'seconds', 'publications/s', 'deliveries/s', 'undelivered'],
      [
        [
          ...[options.subscribers, options.publishers, options.seconds].map(String),
          ...[result.publicationsPerSecond, result.deliveredPerSecond, undelivered].map(String),
        ],
      ],
    ),
    summary: [
      `fanout  ${options.subscribers} subscribers: ${result.publicationsPerSecond} publications/s, ` +
        `${result.deliveredPerSecond} deliveries/s, ${undelivered} undelivered`,
    ],
  };
}

export const SCENARIOS: readonly Scenario[] = [fanout, crossNode];
