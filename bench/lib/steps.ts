/**
 * One measured step of a throughput scenario (a publisher at a fixed rate, subscribers counting),
 * and the ladder of steps that finds the highest rate a system sustains.
 */
import type { PublishReport, PublishRun } from '../load/publisher-process.ts';
import type { SubscriberFleet } from './fleet.ts';
import { LatencyHistogram, type Percentiles } from './histogram.ts';
import { LoadProcess } from './load-process.ts';
import { processCpuSeconds, sleep } from './processes.ts';
import type { RunningSystem } from './systems.ts';

export interface StepLoad {
  /** Publications per second. */
  readonly rate: number;
  /** Publications per HTTP request (all stamped with the request's due time). */
  readonly batch: number;
  readonly channels: readonly string[];
  /** Subscribers each publication reaches. */
  readonly fanout: number;
  readonly payloadBytes: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Node the publisher sends to. */
  readonly node: number;
  /** A step whose p99 latency reaches this is not sustained; without it only deliveries count. */
  readonly maxP99Ms?: number | undefined;
}

export interface StepResult {
  readonly rate: number;
  /** Deliveries per second the load asked for. */
  readonly offered: number;
  /** Deliveries per second counted at the subscribers in the measured window. */
  readonly delivered: number;
  readonly latency: Percentiles;
  /** Server CPU in % of one core, by process; `load` is every load process together. */
  readonly cpu: Readonly<Record<string, number>>;
  /** Subscribers the server closed or lost during the step. */
  readonly lost: number;
  readonly publishErrors: number;
  readonly sustained: boolean;
  /** Why the step does not count as sustained. */
  readonly problems: readonly string[];
}

/** A step is sustained when at least this share of the offered deliveries arrived in its window. */
const SUSTAINED_SHARE = 0.95;
/** The latency bound of the "highest rate sustained with p99 under 250 ms". */
export const SUSTAINED_P99_MS = 250;

export class Publisher {
  readonly #process = new LoadProcess('publisher', 'bench/load/publisher-process.ts');

  run(options: PublishRun): Promise<PublishReport> {
    return this.#process.call<PublishReport>('run', options, (options.seconds + 60) * 1000);
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  stop(): Promise<void> {
    return this.#process.stop();
  }
}

export async function measureStep(
  system: RunningSystem,
  fleet: SubscriberFleet,
  publisher: Publisher,
  load: StepLoad,
): Promise<StepResult> {
  const publishing = publisher.run({
    url: system.nodeUrls[load.node] ?? '',
    api: system.api,
    apiKey: system.apiKey,
    rate: load.rate / load.batch,
    batch: load.batch,
    channels: load.channels,
    payloadBytes: load.payloadBytes,
    seconds: load.warmupSeconds + load.seconds + 0.5,
    sockets: 32,
  });
  await sleep(load.warmupSeconds * 1000);
  await fleet.take();
  const cpuBefore = cpuSample(system, fleet, publisher);
  const started = performance.now();
  await sleep(load.seconds * 1000);
  const sample = await fleet.take();
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuSample(system, fleet, publisher);
  const report = await publishing;
  const offered = load.rate * load.fanout;
  const delivered = Math.round(sample.delivered / elapsed);
  const latency = sample.latency.percentiles();
  const problems: string[] = [];
  if (delivered < offered * SUSTAINED_SHARE) problems.push(`delivered ${delivered}/s of ${offered}/s`);
  if (load.maxP99Ms !== undefined && !(latency.p99 < load.maxP99Ms)) problems.push(`p99 ${latency.p99} ms`);
  if (sample.lost > 0) problems.push(`${sample.lost} subscribers lost (${sample.lostReasons[0]})`);
  if (report.failedRequests > 0)
    problems.push(`${report.failedRequests} publish requests failed (${report.firstError})`);
  if (report.skipped > 0) problems.push(`${report.skipped} publish requests not sent: too many unanswered`);
  const cpu: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(cpuAfter))
    cpu[name] = Math.round((((seconds ?? 0) - (cpuBefore[name] ?? 0)) / elapsed) * 100);
  return {
    rate: load.rate,
    offered,
    delivered,
    latency,
    cpu,
    lost: sample.lost,
    publishErrors: report.failedRequests,
    sustained: problems.length === 0,
    problems,
  };
}

function cpuSample(
  system: RunningSystem,
  fleet: SubscriberFleet,
  publisher: Publisher,
): Record<string, number | undefined> {
  return { ...system.cpu(), load: fleet.cpuSeconds() + (processCpuSeconds(publisher.pid) ?? 0) };
}

export interface LadderOptions {
  /** Publications per second of the first step. */
  readonly startRate: number;
  /** Each step multiplies the rate by this. */
  readonly factor: number;
  readonly maxRate: number;
  readonly maxSteps: number;
}

/**
 * Steps up the rate until a step is not sustained (or the limits are reached), then tries once
 * between the last sustained rate and the first failed one. `step` runs one step at a rate.
 */
export async function climbLadder(
  options: LadderOptions,
  step: (rate: number) => Promise<StepResult>,
): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  let rate = options.startRate;
  for (let i = 0; i < options.maxSteps && rate <= options.maxRate; i++) {
    const result = await step(rate);
    steps.push(result);
    if (!result.sustained) {
      const lastGood = steps.at(-2);
      if (lastGood?.sustained === true) steps.push(await step(Math.round(Math.sqrt(lastGood.rate * rate))));
      break;
    }
    rate = Math.round(rate * options.factor);
  }
  return steps;
}

/** The highest delivered rate of any step, and the highest of a sustained step. */
export function summarizeLadder(steps: readonly StepResult[]): { peak: number; sustained: number } {
  return {
    peak: Math.max(0, ...steps.map((step) => step.delivered)),
    sustained: Math.max(0, ...steps.filter((step) => step.sustained).map((step) => step.delivered)),
  };
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export { LatencyHistogram };
