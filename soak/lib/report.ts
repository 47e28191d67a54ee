/** The soak's files: the samples as CSV, the chart, and the Markdown summary (`latest.md`). */
import { timeChart, type TimeSeries } from './chart.ts';
import type { NodeSample } from './fleet.ts';
import {
  HEAP_GROWTH_LIMIT,
  HEAP_SLOPE_LIMIT_MB_PER_HOUR,
  MIN_JUDGED_MINUTES,
  RSS_SLOPE_LIMIT_MB_PER_HOUR,
  type NodeVerdict,
} from './analysis.ts';

/** One node in one sample. */
export interface NodeRow extends NodeSample {
  /** CPU used since the previous sample, % of one core. */
  readonly cpuPct: number;
  /** Post-GC heap and RSS when a forced collection was made at this sample, MB. */
  readonly gcHeapMb?: number;
  readonly gcRssMb?: number;
}

/** Everything measured in one sampling interval. */
export interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly phase: 'warmup' | 'steady';
  readonly nodes: readonly NodeRow[];
  readonly publishedPerS: number;
  /** Publications received by the subscribers per second (live and recovered). */
  readonly deliveriesPerS: number;
  readonly recovered: number;
  readonly lagP50: number;
  readonly lagP99: number;
  readonly lagMax: number;
  readonly reconnects: number;
  readonly unexpectedCloses: number;
  /** Failed publishes, failed connects or subscribes, failed scrapes. */
  readonly errors: number;
  readonly gaps: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly unrecoverable: number;
  readonly subscribed: number;
  readonly redisMb: number;
}

const NODE_COLUMNS: readonly [string, (node: NodeRow) => number | undefined][] = [
  ['rss_mb', (n) => n.rssMb],
  ['heap_used_mb', (n) => n.heapUsedMb],
  ['heap_total_mb', (n) => n.heapTotalMb],
  ['old_space_total_mb', (n) => n.oldSpaceTotalMb],
  ['code_space_total_mb', (n) => n.codeSpaceTotalMb],
  ['external_mb', (n) => n.externalMb],
  ['gc_heap_mb', (n) => n.gcHeapMb],
  ['gc_rss_mb', (n) => n.gcRssMb],
  ['loop_p99_ms', (n) => n.loopP99Ms],
  ['loop_max_ms', (n) => n.loopMaxMs],
  ['cpu_pct', (n) => n.cpuPct],
  ['connections', (n) => n.connections],
  ['subscriptions', (n) => n.subscriptions],
  ['open_fds', (n) => n.openFds],
];

const COLUMNS: readonly [string, (sample: Sample) => number | string][] = [
  ['published_per_s', (s) => s.publishedPerS],
  ['deliveries_per_s', (s) => s.deliveriesPerS],
  ['recovered', (s) => s.recovered],
  ['lag_p50_ms', (s) => s.lagP50],
  ['lag_p99_ms', (s) => s.lagP99],
  ['lag_max_ms', (s) => s.lagMax],
  ['reconnects', (s) => s.reconnects],
  ['unexpected_closes', (s) => s.unexpectedCloses],
  ['errors', (s) => s.errors],
  ['gaps', (s) => s.gaps],
  ['missing', (s) => s.missing],
  ['duplicates', (s) => s.duplicates],
  ['unrecoverable', (s) => s.unrecoverable],
  ['subscribed', (s) => s.subscribed],
  ['redis_used_mb', (s) => s.redisMb],
];

export function toCsv(samples: readonly Sample[], nodeNames: readonly string[]): string {
  const header = [
    'elapsed_s',
    'phase',
    ...nodeNames.flatMap((name) => NODE_COLUMNS.map(([column]) => `${name}_${column}`)),
    ...COLUMNS.map(([column]) => column),
  ];
  const rows = samples.map((sample) =>
    [
      sample.t.toFixed(1),
      sample.phase,
      ...nodeNames.flatMap((_, i) => NODE_COLUMNS.map(([, read]) => cell(read(sample.nodes[i] as NodeRow)))),
      ...COLUMNS.map(([, read]) => cell(read(sample))),
    ].join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

function cell(value: number | string | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return '';
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

const NODE_COLORS = ['#d9480f', '#1c7ed6', '#2b8a3e', '#7048e8'];

export function toSvg(samples: readonly Sample[], nodeNames: readonly string[], warmupS: number): string {
  const minutes = (sample: Sample) => sample.t / 60;
  const perNode = (read: (node: NodeRow) => number | undefined, label: string, options = {}) =>
    nodeNames.map((name, i): TimeSeries => ({
      label: `${name} ${label}`,
      color: NODE_COLORS[i % NODE_COLORS.length] ?? '#000',
      points: samples
        .filter((s) => s.nodes[i] !== undefined && read(s.nodes[i] as NodeRow) !== undefined)
        .map((s) => [minutes(s), read(s.nodes[i] as NodeRow) ?? Number.NaN]),
      ...options,
    }));
  return timeChart({
    title: 'Herald soak: 2 nodes + Redis under steady load',
    warmupEnd: warmupS / 60,
    end: Math.max(...samples.map(minutes), warmupS / 60),
    panels: [
      {
        title: 'Resident set size (MB; the axis does not start at 0)',
        series: perNode((n) => n.rssMb, 'RSS'),
        zoom: true,
      },
      {
        title: 'V8 heap (MB): used (5-s samples), used after a forced full GC (dots), committed (dashed)',
        series: [
          ...perNode((n) => n.heapUsedMb, 'used'),
          ...perNode((n) => n.gcHeapMb, 'after GC', { dots: true }),
          ...perNode((n) => n.heapTotalMb, 'committed', { dashed: true }),
        ],
      },
      {
        title: 'Lag (ms): delivery (publish due time → subscriber) and event loop p99',
        series: [
          { label: 'delivery p50', color: '#495057', points: samples.map((s) => [minutes(s), s.lagP50]) },
          {
            label: 'delivery p99',
            color: '#495057',
            dashed: true,
            points: samples.map((s) => [minutes(s), s.lagP99]),
          },
          ...perNode((n) => n.loopP99Ms, 'loop p99'),
        ],
      },
    ],
  });
}

/** What the summary reports besides the samples. */
export interface Summary {
  readonly command: string;
  readonly date: string;
  readonly machine: string;
  readonly load: string;
  readonly minutes: number;
  readonly warmupMinutes: number;
  readonly judged: boolean;
  readonly verdicts: readonly NodeVerdict[];
  readonly acknowledged: number;
  readonly delivered: number;
  readonly recovered: number;
  readonly reconnects: number;
  readonly lag: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly lost: number;
  readonly duplicated: number;
  readonly unrecoverable: number;
  readonly unexpectedCloses: number;
  readonly errors: number;
  readonly problems: readonly string[];
  readonly csvFile: string;
  readonly svgFile: string;
}

export function toMarkdown(summary: Summary, samples: readonly Sample[]): string {
  const steady = samples.filter((s) => s.phase === 'steady');
  const mb = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');
  const slope = (value: number) =>
    Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(2)}` : '–';
  const memoryRows = summary.verdicts.map((v, i) => {
    const loop = steady.map((s) => s.nodes[i]?.loopP99Ms ?? Number.NaN).filter(Number.isFinite);
    const loopMax = Math.max(...steady.map((s) => s.nodes[i]?.loopMaxMs ?? 0));
    return `| ${v.name} | ${mb(v.gcHeapStart)} → ${mb(v.gcHeapEnd)} | ${slope(v.gcHeapSlope)} | ${slope(v.heapSlope)} | ${mb(v.gcRssStart)} → ${mb(v.gcRssEnd)} | ${slope(v.rssSlope)} | ${slope(v.committedSlope)} | ${slope(v.outsideHeapSlope)} | ${mb(median(loop))} / ${mb(loopMax)} |`;
  });
  const verdict = summary.problems.length === 0 ? '**Pass**' : '**Fail**';
  return [
    '# Soak: latest run',
    '',
    `Command: \`${summary.command}\` (${summary.date}); ${summary.minutes} minutes of load, the first ${summary.warmupMinutes} of them warm-up.`,
    '',
    `Machine: ${summary.machine}.`,
    '',
    `Load: ${summary.load}.`,
    '',
    `Verdict: ${verdict}${summary.judged ? '' : ` (memory not judged: less than ${MIN_JUDGED_MINUTES} minutes after the warm-up)`}.`,
    ...summary.problems.map((problem) => `- ${problem}`),
    '',
    '## Memory after the warm-up',
    '',
    `Post-GC figures are read right after a forced full garbage collection (at the end of the warm-up, every few minutes, and at the end). Limits: post-GC heap slope ≤ ${HEAP_SLOPE_LIMIT_MB_PER_HOUR} MB/hour and end ≤ start × ${1 + HEAP_GROWTH_LIMIT}; RSS slope (5-s samples) ≤ ${RSS_SLOPE_LIMIT_MB_PER_HOUR} MB/hour.`,
    '',
    '| Node | Heap after GC, MB (warm-up end → end) | Its slope, MB/h | Heap used slope (5-s samples), MB/h | RSS after GC, MB | RSS slope (5-s samples), MB/h | Of which: V8 heap committed, MB/h | Of which: outside the V8 heap, MB/h | Event-loop p99, ms (median / worst max) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...memoryRows,
    '',
    '## Delivery',
    '',
    '| Publications acknowledged | Delivered to subscribers | Of them recovered after a reconnect | Reconnects | Delivery lag p50 / p99 / max, ms (after warm-up) | Lost | Duplicated | Not recoverable | Unexpected closes | Errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${summary.acknowledged} | ${summary.delivered} | ${summary.recovered} | ${summary.reconnects} | ${mb(summary.lag.p50)} / ${mb(summary.lag.p99)} / ${mb(summary.lag.max)} | ${summary.lost} | ${summary.duplicated} | ${summary.unrecoverable} | ${summary.unexpectedCloses} | ${summary.errors} |`,
    '',
    `Samples every few seconds: [${summary.csvFile}](${summary.csvFile}); chart: [${summary.svgFile}](${summary.svgFile}).`,
    '',
    `![soak chart](${summary.svgFile})`,
    '',
    'How the soak works and what the limits mean: docs/reliability.md, "Soak".',
    '',
  ].join('\n');
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
