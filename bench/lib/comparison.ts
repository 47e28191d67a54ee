/**
 * A throughput comparison: for each case (e.g. 1,000 and 10,000 subscribers) and each system, a
 * fresh server and fresh subscriber processes, then a ladder of publish rates until the system no
 * longer keeps up; repeated `runs` times (systems interleaved, so that a noisy minute does not hit
 * one system only) and reported as medians, with Herald's ratio to each peer and a chart of latency
 * against load.
 */
import { SubscriberFleet } from './fleet.ts';
import { markdownTable } from './results.ts';
import type { ResultRow, ScenarioContext, ScenarioResult } from './scenario.ts';
import {
  climbLadder,
  measureStep,
  median,
  Publisher,
  summarizeLadder,
  SUSTAINED_P99_MS,
  type LadderOptions,
  type StepResult,
} from './steps.ts';
import { formatNumber, lineChart, SYSTEM_COLORS } from './svg-chart.ts';
import { startSystem, supports, SYSTEM_LABELS, type SystemName, type SystemOptions } from './systems.ts';

export interface ComparisonCase {
  /** Short and file-name safe, e.g. `1k`. */
  readonly key: string;
  /** For headings, e.g. `1,000 subscribers`. */
  readonly title: string;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** The channel of each subscriber connection (names before the system's namespace). */
  readonly subscriberChannels: readonly string[];
  /** The channels publications go to, round robin. */
  readonly publishChannels: readonly string[];
  /** Subscribers each publication reaches. */
  readonly fanout: number;
  readonly ladder: LadderOptions;
}

export interface ComparisonSpec {
  readonly scenario: string;
  readonly systems: readonly SystemName[];
  readonly topology: SystemOptions;
  readonly subscriberNode: number;
  readonly publisherNode: number;
  readonly cases: readonly ComparisonCase[];
  readonly runs: number;
  readonly batch: number;
  readonly payloadBytes: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Subscriber load processes. */
  readonly processes: number;
}

interface Run {
  readonly steps: readonly StepResult[];
  readonly peak: number;
  readonly sustained: number;
}

export async function runComparison(
  given: ComparisonSpec,
  context: ScenarioContext,
): Promise<ScenarioResult> {
  const spec = { ...given, systems: given.systems.filter((system) => supports(system, given.topology)) };
  const runs = new Map<string, Run[]>();
  const versions: Record<string, string> = {};
  for (const testCase of spec.cases) {
    for (let run = 1; run <= spec.runs; run++) {
      for (const system of spec.systems) {
        context.log(`${spec.scenario} ${testCase.title}: ${system}, run ${run} of ${spec.runs}`);
        const result = await runOnce(spec, testCase, system, context, versions);
        const key = `${testCase.key}/${system}`;
        runs.set(key, [...(runs.get(key) ?? []), result]);
      }
    }
  }
  return report(spec, runs, versions);
}

async function runOnce(
  spec: ComparisonSpec,
  testCase: ComparisonCase,
  name: SystemName,
  context: ScenarioContext,
  versions: Record<string, string>,
): Promise<Run> {
  const system = await startSystem(name, spec.topology);
  Object.assign(versions, system.versions);
  let fleet: SubscriberFleet | undefined;
  const publisher = new Publisher();
  try {
    fleet = await SubscriberFleet.open(system, {
      node: spec.subscriberNode,
      channels: testCase.subscriberChannels.map((channel) => system.channel(channel)),
      processes: spec.processes,
      probes: 16,
    });
    const subscribers = fleet;
    const channels = testCase.publishChannels.map((channel) => system.channel(channel));
    const steps = await climbLadder(testCase.ladder, async (rate) => {
      const step = await measureStep(system, subscribers, publisher, {
        rate,
        batch: Math.min(spec.batch, rate),
        channels,
        fanout: testCase.fanout,
        payloadBytes: spec.payloadBytes,
        warmupSeconds: spec.warmupSeconds,
        seconds: spec.seconds,
        node: spec.publisherNode,
      });
      context.log(
        `  ${formatNumber(step.offered)}/s offered: ${formatNumber(step.delivered)}/s delivered, ` +
          `p50 ${step.latency.p50} ms p99 ${step.latency.p99} ms, cpu ${JSON.stringify(step.cpu)}` +
          (step.sustained ? '' : ` — not sustained: ${step.problems.join('; ')}`),
      );
      // Let a system that fell behind deliver its backlog before the next step is measured.
      if (!(await subscribers.settle())) context.log('  (still delivering a backlog after 15 s)');
      return step;
    });
    return { steps, ...summarizeLadder(steps) };
  } finally {
    await publisher.stop();
    await fleet?.stop();
    await system.stop();
  }
}

function report(
  spec: ComparisonSpec,
  runs: Map<string, Run[]>,
  versions: Record<string, string>,
): ScenarioResult {
  const rows: ResultRow[] = [];
  const sections: string[] = [];
  const summary: string[] = [];
  const files: Record<string, string> = {};
  for (const testCase of spec.cases) {
    const params = {
      ...testCase.params,
      runs: spec.runs,
      batch: spec.batch,
      payloadBytes: spec.payloadBytes,
    };
    const figures = new Map<
      SystemName,
      { peak: number; sustained: number; peaks: number[]; steps: Map<number, StepResult[]> }
    >();
    for (const system of spec.systems) {
      const systemRuns = runs.get(`${testCase.key}/${system}`) ?? [];
      const steps = new Map<number, StepResult[]>();
      for (const run of systemRuns)
        for (const step of run.steps) steps.set(step.rate, [...(steps.get(step.rate) ?? []), step]);
      figures.set(system, {
        peak: median(systemRuns.map((run) => run.peak)),
        sustained: median(systemRuns.map((run) => run.sustained)),
        peaks: systemRuns.map((run) => run.peak),
        steps,
      });
    }
    const herald = figures.get('herald');
    const table: string[][] = [];
    for (const [system, figure] of figures) {
      const row = (metric: string, value: number, unit: string, extra = {}): ResultRow => ({
        scenario: spec.scenario,
        system,
        metric,
        value,
        unit,
        params: { ...params, ...extra },
      });
      rows.push(
        row('deliveries_per_s', figure.peak, '1/s'),
        row('sustained_deliveries_per_s', figure.sustained, '1/s'),
      );
      const rates = [...figure.steps.keys()].sort((a, b) => a - b);
      for (const rate of rates) {
        const steps = figure.steps.get(rate) ?? [];
        const extra = { rate, offered: rate * testCase.fanout };
        rows.push(
          row('step_deliveries_per_s', median(steps.map((s) => s.delivered)), '1/s', extra),
          row('latency_p50', median(steps.map((s) => s.latency.p50)), 'ms', extra),
          row('latency_p99', median(steps.map((s) => s.latency.p99)), 'ms', extra),
          row('server_cpu', median(steps.map((s) => serverCpu(s))), '%', extra),
        );
      }
      const best = bestSustained(figure.steps);
      const ratio =
        herald === undefined || system === 'herald' ? '—' : `${(herald.peak / figure.peak).toFixed(2)}×`;
      table.push([
        SYSTEM_LABELS[system],
        formatNumber(figure.peak),
        formatNumber(figure.sustained),
        ratio,
        best === undefined ? '—' : `${best.latency.p50} / ${best.latency.p99}`,
        figure.peaks.map(formatNumber).join(', '),
      ]);
      if (system !== 'herald' && herald !== undefined)
        summary.push(
          `${testCase.title}: Herald ${formatNumber(herald.peak)}/s = ${ratio} ${SYSTEM_LABELS[system]} (${formatNumber(figure.peak)}/s)`,
        );
    }
    const chartName = `${spec.scenario}-${testCase.key}.svg`;
    files[chartName] = lineChart({
      title: `${spec.scenario}, ${testCase.title}: latency against load (median of ${spec.runs} runs)`,
      xLabel: 'deliveries/s offered',
      yLabel: 'latency, ms (solid p99, dashed p50)',
      guides: [{ y: SUSTAINED_P99_MS, label: `${SUSTAINED_P99_MS} ms` }],
      series: [...figures].flatMap(([system, figure]) => {
        const rates = [...figure.steps.keys()].sort((a, b) => a - b);
        const at = (pick: (step: StepResult) => number) =>
          rates.map(
            (rate) => [rate * testCase.fanout, median((figure.steps.get(rate) ?? []).map(pick))] as const,
          );
        const color = SYSTEM_COLORS[system] ?? '#000';
        return [
          { label: `${SYSTEM_LABELS[system]} p99`, color, points: at((s) => s.latency.p99) },
          { label: `${SYSTEM_LABELS[system]} p50`, color, points: at((s) => s.latency.p50), dashed: true },
        ];
      }),
    });
    sections.push(
      `### ${testCase.title}`,
      '',
      markdownTable(
        [
          'system',
          'deliveries/s (peak)',
          'sustained',
          'Herald ÷ system',
          'p50 / p99 ms at sustained',
          'peak of each run',
        ],
        table,
      ),
      '',
      `![latency against load](${chartName})`,
      '',
    );
  }
  sections.push(
    `Peak: the most deliveries/s counted at the subscribers in any step; sustained: the highest step ` +
      `where ≥ 95% of the offered deliveries arrived within the step, p99 stayed under ${SUSTAINED_P99_MS} ms ` +
      `and no subscriber was lost. Figures are medians of ${spec.runs} runs, each on fresh processes. ` +
      `Publishers send ${spec.batch} publications of ${spec.payloadBytes} bytes per HTTP request.`,
  );
  return { rows, report: sections.join('\n'), summary, files, versions };
}

/** The step with the highest sustained delivery rate, as medians over the runs that sustained it. */
function bestSustained(steps: Map<number, StepResult[]>): StepResult | undefined {
  let best: StepResult | undefined;
  for (const results of steps.values()) {
    const sustained = results.filter((step) => step.sustained);
    if (sustained.length * 2 < results.length || sustained.length === 0) continue;
    const first = sustained[0] as StepResult;
    const candidate: StepResult = {
      ...first,
      delivered: median(sustained.map((s) => s.delivered)),
      latency: {
        ...first.latency,
        p50: median(sustained.map((s) => s.latency.p50)),
        p99: median(sustained.map((s) => s.latency.p99)),
      },
    };
    if (best === undefined || candidate.delivered > best.delivered) best = candidate;
  }
  return best;
}

/** CPU of the server processes (every node and Redis), % of one core. */
function serverCpu(step: StepResult): number {
  return Object.entries(step.cpu)
    .filter(([name]) => name !== 'load')
    .reduce((sum, [, value]) => sum + value, 0);
}
