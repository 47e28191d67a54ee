/** The cross-node scenario's result rows, report section and terminal summary. */
import { markdownTable } from '../lib/results.ts';
import type { ResultRow } from '../lib/scenario.ts';
import type { LatencyResult } from './latency.ts';
import type { CrossNodeSettings } from './settings.ts';
import type { ThroughputResult } from './throughput.ts';
import type { CpuSample } from './topology.ts';

const NAME = 'cross-node';

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;
const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(value < 10 ? 2 : 1));

function rowMaker(params: ResultRow['params']) {
  return (metric: string, value: number, unit: string): ResultRow => ({
    scenario: NAME,
    system: 'herald',
    metric,
    value,
    unit,
    params,
  });
}

function cpuRows(row: ReturnType<typeof rowMaker>, cpu: CpuSample): ResultRow[] {
  return Object.entries(cpu).flatMap(([who, value]) =>
    value === undefined ? [] : [row(`cpu_${who.replace(/[A-Z]/, (c) => `_${c.toLowerCase()}`)}`, value, '%')],
  );
}

export function throughputRows(t: ThroughputResult, settings: CrossNodeSettings): ResultRow[] {
  const row = rowMaker({
    step: 'throughput',
    nodes: 2,
    engine: 'redis',
    concurrency: t.concurrency,
    seconds: settings.seconds,
    payloadBytes: settings.payloadBytes,
    quick: settings.quick,
  });
  return [
    row('publications_per_s', round(t.perSecond), '1/s'),
    row('publish_rtt_p50', round(t.rtt.p50, 3), 'ms'),
    row('publish_rtt_p99', round(t.rtt.p99, 3), 'ms'),
    row('publish_errors', t.errors, 'count'),
    row('delivery_gaps', t.check.missing + t.check.outOfOrder + t.check.wrongEpoch + t.undelivered, 'count'),
    ...cpuRows(row, t.cpu),
    row('load_loop_delay_p99', round(t.loopDelay.p99, 3), 'ms'),
  ];
}

export function latencyRows(l: LatencyResult): ResultRow[] {
  const row = rowMaker({
    step: 'latency',
    nodes: 2,
    engine: 'redis',
    rate: l.rate,
    subscribers: l.subscribers,
    seconds: l.seconds,
    payloadBytes: l.payloadBytes,
    quick: l.quick,
  });
  return [
    row('latency_p50', round(l.latency.p50, 3), 'ms'),
    row('latency_p90', round(l.latency.p90, 3), 'ms'),
    row('latency_p99', round(l.latency.p99, 3), 'ms'),
    row('latency_max', round(l.latency.max, 3), 'ms'),
    row('latency_from_send_p50', round(l.fromSend.p50, 3), 'ms'),
    row('latency_from_send_p99', round(l.fromSend.p99, 3), 'ms'),
    row('publish_rtt_p50', round(l.rtt.p50, 3), 'ms'),
    row('publish_rtt_p99', round(l.rtt.p99, 3), 'ms'),
    row('publications_per_s', round(l.achievedRate), '1/s'),
    row('deliveries_per_s', round(l.latency.count / l.seconds), '1/s'),
    row('missing_deliveries', l.missingDeliveries, 'count'),
    row('publish_errors', l.errors, 'count'),
    ...cpuRows(row, l.cpu),
    row('load_loop_delay_p99', round(l.loopDelay.p99, 3), 'ms'),
  ];
}

const cpuCell = (cpu: CpuSample) =>
  [cpu.nodeA, cpu.nodeB, cpu.redis, cpu.load].map((v) => (v === undefined ? '?' : String(v))).join(' / ');

function checkCell(t: ThroughputResult): string {
  const c = t.check;
  const problems = c.missing + c.outOfOrder + c.wrongEpoch + t.undelivered;
  if (problems === 0) return `ok (${c.received})`;
  return `${c.missing} missing, ${c.outOfOrder} out of order, ${c.wrongEpoch} wrong epoch, ${t.undelivered} undelivered`;
}

function throughputTable(throughput: readonly ThroughputResult[]): string {
  return markdownTable(
    [
      ...['in flight', 'publications/s', 'via A', 'via B', 'publish p50 / p99 ms', 'errors', 'check on B'],
      ...['CPU % A / B / Redis / load', 'load loop p99 ms'],
    ],
    throughput.map((t) => [
      ...[t.concurrency, round(t.perSecond), round(t.perSecondA), round(t.perSecondB)].map(String),
      `${ms(t.rtt.p50)} / ${ms(t.rtt.p99)}`,
      String(t.errors),
      checkCell(t),
      cpuCell(t.cpu),
      ms(t.loopDelay.p99),
    ]),
  );
}

function latencyTable(latency: readonly LatencyResult[]): string {
  return markdownTable(
    [
      ...['rate/s', 'subscribers', 'achieved/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      ...[
        'from send p50 / p99',
        'publish p50 / p99',
        'missing',
        'CPU % A / B / Redis / load',
        'load loop p99 ms',
      ],
    ],
    latency.map((l) => [
      ...[l.rate, l.subscribers, round(l.achievedRate)].map(String),
      ...[l.latency.p50, l.latency.p90, l.latency.p99, l.latency.max].map(ms),
      `${ms(l.fromSend.p50)} / ${ms(l.fromSend.p99)}`,
      `${ms(l.rtt.p50)} / ${ms(l.rtt.p99)}`,
      String(l.missingDeliveries + l.errors),
      cpuCell(l.cpu),
      ms(l.loopDelay.p99),
    ]),
  );
}

/** The throughput step with the most publications/s: figure (a). */
function highest(throughput: readonly ThroughputResult[]): string {
  const best = [...throughput].sort((a, b) => b.perSecond - a.perSecond)[0];
  if (best === undefined) return '';
  return `Highest: **${round(best.perSecond)} publications/s** with ${best.concurrency} in flight.`;
}

function anomalies(throughput: readonly ThroughputResult[], latency: readonly LatencyResult[]): string[] {
  return [
    ...throughput.flatMap((t) => t.anomalies.map((a) => `throughput, ${t.concurrency} in flight: ${a}`)),
    ...latency.flatMap((l) => l.anomalies.map((a) => `latency, ${l.rate}/s: ${a}`)),
  ];
}

export function report(
  settings: CrossNodeSettings,
  throughput: readonly ThroughputResult[],
  latency: readonly LatencyResult[],
): string {
  const problems = anomalies(throughput, latency);
  const problemList =
    problems.length === 0 ? '' : `\n**Problems seen:**\n\n${problems.map((p) => `- ${p}`).join('\n')}\n`;
  const step = `${settings.seconds} s measured after ${settings.warmupSeconds} s of warm-up`;
  return `### (a) Publish throughput, publishers on both nodes

Closed-loop publishers (each sends its next publish when the last one is answered), half on each node;
${step}; ${settings.payloadBytes}-byte JSON data to one channel with history (the default 100 kept);
HTTP/1.1 keep-alive. "check on B": one subscriber on node B saw every offset, once and in order.

${throughputTable(throughput)}

${highest(throughput)}

### (b) Latency, publish on node A → delivery on node B

One fixed-rate publisher on node A, subscribers on node B; ${step}. Latency runs from each
publication's *intended* send time on the schedule to its arrival at each subscriber, over every
delivery, so queueing anywhere, the publisher included, counts (no coordinated omission). "from send"
starts when the request was actually issued, leaving out the pacing timer's lag (timers fire every
~1 ms). "publish" is the HTTP round trip. "missing": deliveries that never arrived plus failed publishes.

${latencyTable(latency)}

CPU is in % of one core over the measured window (from /proc) for node A, node B, redis-server and the
load generator; "load loop p99" is the load generator's own event-loop delay, a bound on how late it may
have read deliveries and answers. All four processes share the machine's cores.
${problemList}`;
}

export function summary(
  throughput: readonly ThroughputResult[],
  latency: readonly LatencyResult[],
): string[] {
  const problems = anomalies(throughput, latency);
  return [
    '(a) publish throughput, publishers on both nodes:',
    ...throughputTable(throughput).split('\n'),
    highest(throughput).replaceAll('**', ''),
    '(b) latency, publish on node A → delivery on node B (ms from intended send time):',
    ...latencyTable(latency).split('\n'),
    ...(problems.length === 0 ? ['no gaps, no errors'] : problems.map((p) => `! ${p}`)),
  ];
}
