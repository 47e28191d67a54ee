/**
 * Step (a): closed-loop publishers (each waits for its answer, then publishes again), half on each node,
 * for warm-up + measured seconds; counts 2xx answers that complete in the measured window. A subscriber
 * on node B checks every offset of the channel.
 */
import { HttpPublisher, type PublishOutcome } from '../lib/http-publisher.ts';
import { LatencyHistogram, type Percentiles } from '../lib/histogram.ts';
import { MessageFactory } from '../lib/messages.ts';
import { sleep, watchLoopDelay } from '../lib/processes.ts';
import type { OffsetCheck } from '../lib/ws-subscriber.ts';
import type { CrossNodeSettings } from './settings.ts';
import { cpuPercent, type CpuSample, type StepHealth, type Topology } from './topology.ts';

export interface ThroughputResult extends StepHealth {
  /** Publishers in flight. */
  readonly concurrency: number;
  /** 2xx answers per second in the measured window, all together and by the node that answered. */
  readonly perSecond: number;
  readonly perSecondA: number;
  readonly perSecondB: number;
  /** Publish round trips in the measured window. */
  readonly rtt: Percentiles;
  /** Non-2xx answers and failed requests, warm-up included. */
  readonly errors: number;
  /** What the subscriber on node B saw. */
  readonly check: OffsetCheck;
  /** Acknowledged offsets the subscriber had not received when the wait for stragglers ended. */
  readonly undelivered: number;
}

/** How long to wait, after the last answer, for the subscriber to catch up. */
const DRAIN_TIMEOUT_MS = 10_000;
const MAX_ANOMALIES = 5;

export async function measureThroughput(
  topology: Topology,
  settings: CrossNodeSettings,
  concurrency: number,
): Promise<ThroughputResult> {
  const channel = topology.channel('throughput');
  const checker = await topology.subscribeOnB(channel);
  const perNode = Math.ceil(concurrency / 2);
  const publishers = [topology.nodeA, topology.nodeB].map(
    (node) => new HttpPublisher(node.url, topology.apiKey, perNode),
  );
  try {
    const startOffset = checker.lastOffset;
    const load = await publishFor(publishers, channel, settings, concurrency, topology);
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (checker.lastOffset < load.maxOffset && checker.closedWith === undefined && Date.now() < deadline)
      await sleep(20);
    const check = checker.check();
    const anomalies = [...load.anomalies, ...check.anomalies.map((a) => `subscriber on B: ${a}`)];
    if (checker.closedWith !== undefined) anomalies.push(`subscriber on B: ${checker.closedWith}`);
    const storedWithoutAnswer = load.maxOffset - startOffset - load.ok;
    if (storedWithoutAnswer > 0)
      anomalies.push(`${storedWithoutAnswer} publications were stored although their request failed`);
    return {
      concurrency,
      perSecond: (load.countA + load.countB) / settings.seconds,
      perSecondA: load.countA / settings.seconds,
      perSecondB: load.countB / settings.seconds,
      rtt: load.rtt.percentiles(),
      errors: load.errors,
      check,
      undelivered: Math.max(0, load.maxOffset - check.lastOffset),
      cpu: load.cpu,
      loopDelay: load.loopDelay,
      anomalies: anomalies.slice(0, MAX_ANOMALIES),
    };
  } finally {
    checker.close();
    for (const publisher of publishers) publisher.close();
  }
}

interface LoadOutcome {
  countA: number;
  countB: number;
  ok: number;
  errors: number;
  maxOffset: number;
  rtt: LatencyHistogram;
  cpu: CpuSample;
  loopDelay: { p99: number; max: number };
  anomalies: string[];
}

async function publishFor(
  publishers: readonly HttpPublisher[],
  channel: string,
  settings: CrossNodeSettings,
  concurrency: number,
  topology: Topology,
): Promise<LoadOutcome> {
  const messages = new MessageFactory(channel, settings.payloadBytes);
  const out: LoadOutcome = {
    ...{ countA: 0, countB: 0, ok: 0, errors: 0, maxOffset: 0 },
    ...{ rtt: new LatencyHistogram(), cpu: topology.cpu(), loopDelay: { p99: 0, max: 0 }, anomalies: [] },
  };
  const measureFrom = performance.now() + settings.warmupSeconds * 1000;
  const end = measureFrom + settings.seconds * 1000;
  let seq = 0;
  const onFailure = (outcome: PublishOutcome) => {
    out.errors += 1;
    if (out.anomalies.length < MAX_ANOMALIES)
      out.anomalies.push(`publish failed: ${outcome.status} ${outcome.detail.slice(0, 200)}`);
  };
  const worker = async (index: number) => {
    const publisher = publishers[index % 2];
    if (publisher === undefined) return;
    while (performance.now() < end) {
      const sent = performance.now();
      const time = performance.timeOrigin + sent;
      const outcome = await publisher.publish(messages.body(seq++, time, time));
      const done = performance.now();
      if (outcome.status < 200 || outcome.status >= 300) {
        onFailure(outcome);
        await sleep(10); // A node that refuses at once must not turn this loop into a busy spin.
        continue;
      }
      out.ok += 1;
      out.maxOffset = Math.max(out.maxOffset, outcome.offset ?? 0);
      if (done < measureFrom || done > end) continue;
      if (index % 2 === 0) out.countA += 1;
      else out.countB += 1;
      out.rtt.record(done - sent);
    }
  };
  const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
  await sleep(Math.max(0, measureFrom - performance.now()));
  const cpuFrom = topology.cpu();
  const loopDelay = watchLoopDelay();
  await sleep(Math.max(0, end - performance.now()));
  out.cpu = cpuPercent(cpuFrom, topology.cpu(), settings.seconds);
  out.loopDelay = loopDelay();
  await Promise.all(workers);
  return out;
}
