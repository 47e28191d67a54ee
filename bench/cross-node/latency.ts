/**
 * Step (b): one publisher on node A paced by a fixed schedule, subscribers on node B. Publication `n`
 * of a step is due at `start + n / rate`; each timer tick sends every publication that is due, stamped
 * with its due (intended) time and the time it actually left, and never waits for answers. Latency at
 * a subscriber is arrival − intended time, so a stall anywhere (server, Redis, this process) shows up
 * in the latency of every publication it delayed.
 */
import { HttpPublisher } from '../lib/http-publisher.ts';
import { LatencyHistogram, type Percentiles } from '../lib/histogram.ts';
import { MessageFactory, readTimes } from '../lib/messages.ts';
import { sleep, watchLoopDelay } from '../lib/processes.ts';
import type { BenchSubscriber, PublicationHandler } from '../lib/ws-subscriber.ts';
import type { CrossNodeSettings } from './settings.ts';
import { cpuPercent, type CpuSample, type StepHealth, type Topology } from './topology.ts';

export interface LatencyResult extends StepHealth {
  readonly rate: number;
  readonly subscribers: number;
  readonly seconds: number;
  readonly payloadBytes: number;
  readonly quick: boolean;
  /** Publications acknowledged per second in the measured window. */
  readonly achievedRate: number;
  /** Intended send time → arrival, over every delivery to every subscriber. */
  readonly latency: Percentiles;
  /** Actual send time → arrival. */
  readonly fromSend: Percentiles;
  /** Publish request round trips (actual send → answer). */
  readonly rtt: Percentiles;
  /** Deliveries of acknowledged publications that did not arrive. */
  readonly missingDeliveries: number;
  /** Failed publishes. */
  readonly errors: number;
}

/** Connections opened at once while setting up subscribers. */
const CONNECT_BATCH = 50;
/** Publishes waiting for an answer beyond which a step stops: the nodes are not keeping up. */
const MAX_IN_FLIGHT = 10_000;
/** Connections the publisher may open to node A; more requests wait in the agent's queue. */
const PUBLISHER_SOCKETS = 64;
const DRAIN_TIMEOUT_MS = 10_000;
/** How long to wait for the answers to the last publishes of a step. */
const UNANSWERED_TIMEOUT_MS = 30_000;
const MAX_ANOMALIES = 5;

/** The measured window and what subscribers recorded in it. */
interface Window {
  /** Intended send times (ms since the epoch) of the publications measured: [from, to). */
  from: number;
  to: number;
  latency: LatencyHistogram;
  fromSend: LatencyHistogram;
  unreadable: number;
}

export async function measureLatency(
  topology: Topology,
  settings: CrossNodeSettings,
  onStep: (rate: number) => void,
): Promise<LatencyResult[]> {
  const channel = topology.channel('latency');
  const window: Window = {
    ...{ from: Infinity, to: -Infinity, unreadable: 0 },
    ...{ latency: new LatencyHistogram(), fromSend: new LatencyHistogram() },
  };
  const onPublication: PublicationHandler = (line, dataStart, now) => {
    const { intended, actual } = readTimes(line, dataStart);
    if (Number.isNaN(intended) || Number.isNaN(actual)) window.unreadable += 1;
    else if (intended >= window.from && intended < window.to) {
      window.latency.record(now - intended);
      window.fromSend.record(now - actual);
    }
  };
  const subscribers = await openSubscribers(topology, channel, settings.subscribers);
  for (const subscriber of subscribers) subscriber.onPublication = onPublication;
  const publisher = new HttpPublisher(topology.nodeA.url, topology.apiKey, PUBLISHER_SOCKETS);
  const messages = new MessageFactory(channel, settings.payloadBytes);
  try {
    const results: LatencyResult[] = [];
    for (const rate of settings.rates) {
      onStep(rate);
      results.push(await step({ topology, settings, rate, subscribers, publisher, messages, window }));
    }
    return results;
  } finally {
    for (const subscriber of subscribers) subscriber.close();
    publisher.close();
  }
}

async function openSubscribers(
  topology: Topology,
  channel: string,
  count: number,
): Promise<BenchSubscriber[]> {
  const subscribers: BenchSubscriber[] = [];
  for (let opened = 0; opened < count; opened += CONNECT_BATCH) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(CONNECT_BATCH, count - opened) }, () => topology.subscribeOnB(channel)),
    );
    for (const result of batch) if (result.status === 'fulfilled') subscribers.push(result.value);
    const failed = batch.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      for (const subscriber of subscribers) subscriber.close();
      throw new Error(`could not open subscriber ${subscribers.length + 1} on node B`, {
        cause: failed.reason,
      });
    }
  }
  return subscribers;
}

interface StepInput {
  readonly topology: Topology;
  readonly settings: CrossNodeSettings;
  readonly rate: number;
  readonly subscribers: readonly BenchSubscriber[];
  readonly publisher: HttpPublisher;
  readonly messages: MessageFactory;
  readonly window: Window;
}

async function step(input: StepInput): Promise<LatencyResult> {
  const { settings, rate, subscribers, window } = input;
  const before = offsetProblems(subscribers);
  window.latency = new LatencyHistogram();
  window.fromSend = new LatencyHistogram();
  const paced = await publishPaced(input);
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  const behind = () => subscribers.some((s) => s.lastOffset < paced.maxOffset && s.closedWith === undefined);
  while (behind() && Date.now() < deadline) await sleep(20);
  window.from = Infinity; // Stragglers arriving after the wait no longer count.

  const anomalies = [...paced.anomalies];
  const problems = offsetProblems(subscribers);
  const newProblems = problems.total - before.total;
  if (newProblems > 0)
    anomalies.push(`subscribers on B saw ${newProblems} offset problems: ${problems.first}`);
  const closed = subscribers.filter((s) => s.closedWith !== undefined);
  if (closed.length > 0)
    anomalies.push(`${closed.length} subscribers disconnected: ${closed[0]?.closedWith}`);
  if (window.unreadable > 0) anomalies.push(`${window.unreadable} deliveries without readable timestamps`);
  return {
    rate,
    subscribers: subscribers.length,
    seconds: settings.seconds,
    payloadBytes: settings.payloadBytes,
    quick: settings.quick,
    achievedRate: paced.okInWindow / settings.seconds,
    latency: window.latency.percentiles(),
    fromSend: window.fromSend.percentiles(),
    rtt: paced.rtt.percentiles(),
    missingDeliveries: Math.max(0, paced.okInWindow * subscribers.length - window.latency.count),
    errors: paced.errors,
    cpu: paced.cpu,
    loopDelay: paced.loopDelay,
    anomalies: anomalies.slice(0, MAX_ANOMALIES),
  };
}

function offsetProblems(subscribers: readonly BenchSubscriber[]): { total: number; first: string } {
  let total = 0;
  let first = '';
  for (const subscriber of subscribers) {
    const check = subscriber.check();
    total += check.missing + check.outOfOrder + check.wrongEpoch;
    first ||= check.anomalies[0] ?? '';
  }
  return { total, first };
}

interface PacedOutcome {
  okInWindow: number;
  errors: number;
  maxOffset: number;
  rtt: LatencyHistogram;
  cpu: CpuSample;
  loopDelay: { p99: number; max: number };
  anomalies: string[];
}

async function publishPaced(input: StepInput): Promise<PacedOutcome> {
  const { topology, settings, rate, publisher, messages, window } = input;
  const interval = 1000 / rate;
  const warmupCount = Math.round(rate * settings.warmupSeconds);
  const total = warmupCount + Math.round(rate * settings.seconds);
  const start = performance.now() + 10;
  // Half an interval of margin: the stamps in the data are rounded to the microsecond.
  window.from = performance.timeOrigin + start + (warmupCount - 0.5) * interval;
  window.to = performance.timeOrigin + start + (total - 0.5) * interval;
  const out: PacedOutcome = {
    ...{ okInWindow: 0, errors: 0, maxOffset: 0, anomalies: [] },
    ...{ rtt: new LatencyHistogram(), cpu: topology.cpu(), loopDelay: { p99: 0, max: 0 } },
  };
  let inFlight = 0;
  const send = (seq: number) => {
    const intended = start + seq * interval;
    const actual = performance.now();
    const body = messages.body(seq, performance.timeOrigin + intended, performance.timeOrigin + actual);
    inFlight += 1;
    void publisher.publish(body).then((outcome) => {
      inFlight -= 1;
      if (outcome.status < 200 || outcome.status >= 300) {
        out.errors += 1;
        if (out.anomalies.length < MAX_ANOMALIES)
          out.anomalies.push(`publish failed: ${outcome.status} ${outcome.detail.slice(0, 200)}`);
        return;
      }
      out.maxOffset = Math.max(out.maxOffset, outcome.offset ?? 0);
      if (seq < warmupCount) return;
      out.okInWindow += 1;
      out.rtt.record(performance.now() - actual);
    });
  };
  let next = 0;
  let cpuFrom: CpuSample | undefined;
  let loopDelay: ReturnType<typeof watchLoopDelay> | undefined;
  while (next < total) {
    if (cpuFrom === undefined && next >= warmupCount) {
      cpuFrom = topology.cpu();
      loopDelay = watchLoopDelay();
    }
    const now = performance.now();
    while (next < total && start + next * interval <= now) send(next++);
    if (inFlight > MAX_IN_FLIGHT) {
      out.anomalies.push(`stopped early: over ${MAX_IN_FLIGHT} publishes waiting for an answer`);
      break;
    }
    if (next < total) await sleep(Math.max(0, Math.floor(start + next * interval - performance.now())));
  }
  out.cpu = cpuPercent(cpuFrom ?? topology.cpu(), topology.cpu(), settings.seconds);
  out.loopDelay = loopDelay?.() ?? out.loopDelay;
  const deadline = performance.now() + UNANSWERED_TIMEOUT_MS;
  while (inFlight > 0 && performance.now() < deadline) await sleep(5);
  if (inFlight > 0)
    out.anomalies.push(`${inFlight} publishes still unanswered ${UNANSWERED_TIMEOUT_MS} ms after the last`);
  return out;
}
