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
  /** Climb a ladder of rates to find the highest sustained one… */
  readonly ladder?: LadderOptions;
  /** …or measure these rates (publications/s) only, for latency at a fixed load. */
  readonly rates?: readonly number[];
  /** Publications per request, when the case needs another than the comparison's. */
  readonly batch?: number;
  /**
   * Steps with a p99 at or above this are not sustained (cross-node: 250 ms). Without it a step is
   * sustained when its deliveries arrive, however late: a throughput measurement.
   */
  readonly maxP99Ms?: number;
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
    const measure = async (rate: number) => {
      const step = await measureStep(system, subscribers, publisher, {
        rate,
        batch: Math.min(testCase.batch ?? spec.batch, rate),
        channels,
        fanout: testCase.fanout,
        payloadBytes: spec.payloadBytes,
        warmupSeconds: spec.warmupSeconds,
        seconds: spec.seconds,
        node: spec.publisherNode,
        maxP99Ms: testCase.maxP99Ms,
      });
      context.log(
        `  ${formatNumber(step.offered)}/s offered: ${formatNumber(step.delivered)}/s delivered, ` +
          `p50 ${step.latency.p50} ms p99 ${step.latency.p99} ms, cpu ${JSON.stringify(step.cpu)}` +
          (step.sustained ? '' : ` — not sustained: ${step.problems.join('; ')}`),
      );
      // Let a system that fell behind deliver its backlog before the next step is measured.
      if (!(await subscribers.settle())) context.log('  (still delivering a backlog after 15 s)');
      return step;
    };
    const steps: StepResult[] = [];
    if (testCase.ladder !== undefined) steps.push(...(await climbLadder(testCase.ladder, measure)));
    for (const rate of testCase.rates ?? []) steps.push(await measure(rate));
    return { steps, ...summarizeLadder(steps) };
  } finally {
    await publisher.stop();
    await fleet?.stop();
    await system.stop();
  }
}

interface Figures {
  readonly peak: number;
  readonly sustained: number;
  readonly peaks: readonly number[];
  /** Every run's step at each rate. */
  readonly steps: ReadonlyMap<number, readonly StepResult[]>;
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
    const batch = testCase.batch ?? spec.batch;
    const params = { ...testCase.params, runs: spec.runs, batch, payloadBytes: spec.payloadBytes };
    const figures = new Map<SystemName, Figures>();
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
    for (const [system, figure] of figures)
      rows.push(...resultRows(spec.scenario, system, figure, testCase, params));
    const ladder = testCase.ladder !== undefined;
    sections.push(
      `### ${testCase.title}`,
      '',
      ladder ? ladderTable(figures) : latencyTable(figures, testCase),
      '',
    );
    summary.push(...summaryLines(testCase, figures, ladder));
    const chartName = `${spec.scenario}-${testCase.key}.svg`;
    files[chartName] = latencyChart(spec, testCase, figures);
    sections.push(`![latency against load](${chartName})`, '');
  }
  sections.push(
    `Peak: the most deliveries/s counted at the subscribers in any step; sustained: the highest step ` +
      `where ≥ 95% of the offered deliveries arrived within the step and no subscriber was lost` +
      (spec.cases.some((c) => c.maxP99Ms !== undefined)
        ? ` (and, where the table says so, p99 stayed under ${SUSTAINED_P99_MS} ms)`
        : '') +
      `. Latency is from a publication's scheduled send time to its arrival, ` +
      `sampled by 16 subscribers per load process spread over the fan-out order. Figures are medians of ` +
      `${spec.runs} run(s), each on fresh processes. Publications carry ${spec.payloadBytes} bytes of JSON.`,
  );
  return { rows, report: sections.join('\n'), summary, files, versions };
}

function resultRows(
  scenario: string,
  system: SystemName,
  figure: Figures,
  testCase: ComparisonCase,
  params: Readonly<Record<string, string | number | boolean>>,
): ResultRow[] {
  const row = (metric: string, value: number, unit: string, extra = {}): ResultRow => ({
    ...{ scenario, system, metric, value, unit },
    params: { ...params, ...extra },
  });
  const rows: ResultRow[] = [];
  if (testCase.ladder !== undefined)
    rows.push(
      row('deliveries_per_s', figure.peak, '1/s'),
      row('sustained_deliveries_per_s', figure.sustained, '1/s'),
    );
  for (const rate of [...figure.steps.keys()].sort((a, b) => a - b)) {
    const steps = figure.steps.get(rate) ?? [];
    const extra = { rate, offered: rate * testCase.fanout };
    const at = (pick: (step: StepResult) => number) => median(steps.map(pick));
    rows.push(
      row(
        'step_deliveries_per_s',
        at((s) => s.delivered),
        '1/s',
        extra,
      ),
      row(
        'latency_p50',
        at((s) => s.latency.p50),
        'ms',
        extra,
      ),
      row(
        'latency_p90',
        at((s) => s.latency.p90),
        'ms',
        extra,
      ),
      row(
        'latency_p99',
        at((s) => s.latency.p99),
        'ms',
        extra,
      ),
      row(
        'latency_max',
        at((s) => s.latency.max),
        'ms',
        extra,
      ),
      row('server_cpu', at(serverCpu), '%', extra),
    );
  }
  return rows;
}

function ratio(herald: number | undefined, other: number): string {
  return herald === undefined || !(other > 0) ? '—' : `${(herald / other).toFixed(2)}×`;
}

function ladderTable(figures: ReadonlyMap<SystemName, Figures>): string {
  const herald = figures.get('herald');
  const table = [...figures].map(([system, figure]) => {
    const best = bestSustained(figure.steps);
    const own = system === 'herald';
    return [
      SYSTEM_LABELS[system],
      formatNumber(figure.peak),
      own ? '—' : ratio(herald?.peak, figure.peak),
      formatNumber(figure.sustained),
      own ? '—' : ratio(herald?.sustained, figure.sustained),
      best === undefined ? '—' : `${best.latency.p50.toFixed(1)} / ${best.latency.p99.toFixed(1)}`,
      figure.peaks.map(formatNumber).join(', '),
    ];
  });
  return markdownTable(
    [
      'system',
      'deliveries/s (peak)',
      'Herald ÷ system',
      'sustained',
      'Herald ÷ system',
      'p50 / p99 ms at sustained',
      'peak of each run',
    ],
    table,
  );
}

function latencyTable(figures: ReadonlyMap<SystemName, Figures>, testCase: ComparisonCase): string {
  const table: string[][] = [];
  for (const [system, figure] of figures) {
    for (const rate of [...figure.steps.keys()].sort((a, b) => a - b)) {
      const steps = figure.steps.get(rate) ?? [];
      const at = (pick: (step: StepResult) => number) => median(steps.map(pick));
      table.push([
        SYSTEM_LABELS[system],
        `${rate}`,
        formatNumber(rate * testCase.fanout),
        formatNumber(at((s) => s.delivered)),
        ...[
          at((s) => s.latency.p50),
          at((s) => s.latency.p90),
          at((s) => s.latency.p99),
          at((s) => s.latency.max),
        ].map((ms) => ms.toFixed(1)),
        `${Math.round(at(serverCpu))}%`,
      ]);
    }
  }
  return markdownTable(
    [
      'system',
      'publications/s',
      'offered/s',
      'delivered/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'server CPU',
    ],
    table,
  );
}

function summaryLines(
  testCase: ComparisonCase,
  figures: ReadonlyMap<SystemName, Figures>,
  ladder: boolean,
): string[] {
  const herald = figures.get('herald');
  if (herald === undefined) return [];
  if (!ladder) {
    return [...herald.steps].map(([rate, steps]) => {
      const at = (pick: (step: StepResult) => number) => median(steps.map(pick));
      return `${testCase.title}, Herald at ${rate}/s: p50 ${at((s) => s.latency.p50)} ms, p99 ${at((s) => s.latency.p99)} ms`;
    });
  }
  return [...figures]
    .filter(([system]) => system !== 'herald')
    .map(
      ([system, figure]) =>
        `${testCase.title}: Herald peak ${formatNumber(herald.peak)}/s = ${ratio(herald.peak, figure.peak)} ` +
        `${SYSTEM_LABELS[system]}; sustained ${formatNumber(herald.sustained)}/s = ` +
        `${ratio(herald.sustained, figure.sustained)}`,
    );
}

function latencyChart(
  spec: ComparisonSpec,
  testCase: ComparisonCase,
  figures: ReadonlyMap<SystemName, Figures>,
): string {
  return lineChart({
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
}

/** The step with the highest sustained delivery rate, as medians over the runs that sustained it. */
function bestSustained(steps: ReadonlyMap<number, readonly StepResult[]>): StepResult | undefined {
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
