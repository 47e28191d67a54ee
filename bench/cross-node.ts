/**
 * Cross-node scenario: two Herald nodes (separate processes) sharing one local redis-server, and this
 * process as the load generator.
 *
 * (a) Throughput: N publishers in flight, spread over both nodes, POST /api/publish to a channel with
 *     history for a fixed time; counts 2xx answers per second. One subscriber on node B checks that
 *     every offset arrives, in order.
 * (b) Latency: one publisher on node A at a fixed rate, S subscribers on node B; latency from each
 *     publication's intended send time (its slot in the schedule, so a slow answer cannot delay the
 *     schedule and hide queued publications: no coordinated omission) to its arrival at each subscriber.
 *     Publisher and subscribers share this process, so their clocks agree.
 */
import { measureLatency } from './cross-node/latency.ts';
import { latencyRows, report, summary, throughputRows } from './cross-node/report.ts';
import { crossNodeSettings, OPTIONS, type CrossNodeSettings } from './cross-node/settings.ts';
import { measureThroughput, type ThroughputResult } from './cross-node/throughput.ts';
import { assertAlive, startTopology, type Cleanups } from './cross-node/topology.ts';
import type { Scenario, ScenarioContext, ScenarioResult } from './lib/scenario.ts';

const NAME = 'cross-node';

async function run(settings: CrossNodeSettings, context: ScenarioContext): Promise<ScenarioResult> {
  context.log(`${NAME}: starting redis-server and two Herald nodes`);
  const cleanups: Cleanups = [];
  try {
    const topology = await startTopology(cleanups);
    const throughput: ThroughputResult[] = [];
    for (const concurrency of settings.concurrency) {
      context.log(`${NAME}: throughput, ${concurrency} publishers in flight over both nodes`);
      throughput.push(await measureThroughput(topology, settings, concurrency));
      assertAlive(topology);
    }
    context.log(`${NAME}: opening ${settings.subscribers} subscribers on node B`);
    const latency = await measureLatency(topology, settings, (rate) =>
      context.log(`${NAME}: latency, ${rate} publications/s on node A → ${settings.subscribers} on node B`),
    );
    assertAlive(topology);
    return {
      rows: [...throughput.flatMap((t) => throughputRows(t, settings)), ...latency.flatMap(latencyRows)],
      report: report(settings, throughput, latency),
      summary: summary(throughput, latency),
      versions: { redis: topology.redisVersion },
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

export const crossNode: Scenario = {
  name: NAME,
  description:
    'Two Herald nodes (separate processes) sharing one local Redis, load generated from a third process: ' +
    '(a) publications/s accepted by `POST /api/publish` with publishers on both nodes, ' +
    '(b) latency from a publish on node A to delivery at subscribers on node B, at fixed rates.',
  options: OPTIONS,
  prepare(args, context) {
    const settings = crossNodeSettings(args, context.quick);
    return () => run(settings, context);
  },
};
