/**
 * The final check of fault and chaos tests: every publication the {@link CheckingPublisher} got
 * acknowledged reached every {@link CheckingSubscriber} exactly once, or the subscriber was told
 * `recovered: false` at a point that covers it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ack, CheckingPublisher } from './checking-publisher.ts';
import type { Anomaly, CheckingSubscriber, NotRecovered, Position } from './checking-subscriber.ts';

/**
 * What the checks read of a subscriber: a {@link CheckingSubscriber}, or another client that records the
 * same (the SDK-based one in sdk-checking-subscriber.ts).
 */
export type CheckedSubscriber = Pick<CheckingSubscriber, 'report' | 'receipts' | 'channels' | 'notRecovered'>;

/** The outcome of {@link checkDelivery}. */
export interface DeliveryCheck {
  /** Human-readable problems; empty when every guarantee held. */
  readonly problems: readonly string[];
  /** Per subscriber: acknowledged publications received, and those lost but announced by `recovered: false`. */
  readonly subscribers: readonly { name: string; received: number; lostButTold: number; missing: number }[];
  /**
   * Positions acknowledged twice, for different publications: Redis lost acknowledged writes (a failover)
   * and the channel's stream reused their offsets in the same epoch.
   */
  readonly reusedPositions: number;
}

/**
 * Every acknowledged publication was received exactly once by every subscriber (at its acknowledged
 * position, with its id), or the subscriber was told `recovered: false` at a point that covers it; and no
 * subscriber saw a duplicate, an out-of-order publication or a silent gap. Only acks of a subscriber's own
 * channels count.
 */
export function checkDelivery(
  acks: readonly Ack[],
  subscribers: readonly CheckedSubscriber[],
  maxListed = 10,
): DeliveryCheck {
  const problems: string[] = [];
  const results = subscribers.map((subscriber) => {
    const report = subscriber.report();
    for (const anomaly of [...report.duplicates, ...report.outOfOrder, ...report.gaps])
      problems.push(`${report.name}: ${describeAnomaly(anomaly)}`);
    const received = new Set(
      subscriber.receipts().map((r) => `${r.channel}|${r.epoch}:${r.offset}:${r.id ?? ''}`),
    );
    let ok = 0;
    let lostButTold = 0;
    const missing: Ack[] = [];
    for (const ack of acks) {
      if (!subscriber.channels.includes(ack.channel)) continue;
      if (received.has(`${ack.channel}|${ack.epoch}:${ack.offset}:${ack.id}`)) ok += 1;
      else if (subscriber.notRecovered(ack.channel).some((event) => covers(event, ack))) lostButTold += 1;
      else missing.push(ack);
    }
    for (const ack of missing.slice(0, maxListed))
      problems.push(
        `${report.name}: never received acknowledged ${ack.channel} ${ack.epoch}:${ack.offset} (${ack.id}), and was not told recovered: false`,
      );
    if (missing.length > maxListed)
      problems.push(
        `${report.name}: … and ${missing.length - maxListed} more acknowledged publications missing`,
      );
    return { name: report.name, received: ok, lostButTold, missing: missing.length };
  });
  const positions = new Map<string, string>();
  let reusedPositions = 0;
  for (const ack of acks) {
    const key = `${ack.channel}|${ack.epoch}:${ack.offset}`;
    const earlier = positions.get(key);
    if (earlier !== undefined && earlier !== ack.id) reusedPositions += 1;
    positions.set(key, ack.id);
  }
  return { problems, subscribers: results, reusedPositions };
}

/**
 * Whether a `recovered: false` covers an acknowledged publication the subscriber did not receive. The app
 * reloads its state when told `recovered: false` and continues from `current`; what it reloads holds every
 * publication stored before the reply. So it covers, in current's epoch, every offset up to
 * `current.offset`, and in any other epoch every publication sent before the subscriber got the reply (its
 * own `since` epoch included: after a failover that lost writes, a stream may reuse offsets the subscriber
 * already had for other publications).
 */
export function covers(event: NotRecovered, ack: Ack): boolean {
  if (ack.epoch === event.current.epoch) return ack.offset <= event.current.offset;
  return ack.sentAt <= event.at;
}

/**
 * Waits until {@link checkDelivery} reports nothing missing (or `timeoutMs` passes), then returns its
 * result. Call it after the publisher stopped; what is still missing at the deadline is reported missing.
 * The default outlasts a node's periodic position check (every 15 s), the only thing that reveals a gap
 * after the last publication of a burst; when nothing is missing it returns at once.
 */
export async function waitForDelivery(
  acks: readonly Ack[],
  subscribers: readonly CheckedSubscriber[],
  timeoutMs = 20_000,
): Promise<DeliveryCheck> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const check = checkDelivery(acks, subscribers);
    if (check.subscribers.every((s) => s.missing === 0) || Date.now() > deadline) return check;
    await sleep(50);
  }
}

/** The distinct answers of failed publish attempts, as `<status> <code>` (status 0: no answer). */
export function failureAnswers(publisher: CheckingPublisher): string[] {
  return [...new Set(publisher.failures.map((failure) => `${failure.status} ${failure.code}`))].sort();
}

/**
 * A compact account of a run, as JSON text for assertion messages: acknowledgements, failed attempts by
 * answer and channel, the delivery check, and what each subscriber went through.
 */
export function describeRun(
  check: DeliveryCheck,
  publisher: CheckingPublisher,
  subscribers: readonly CheckedSubscriber[],
): string {
  const failures: Record<string, Record<string, number>> = {};
  for (const failure of publisher.failures) {
    const byChannel = (failures[`${failure.status} ${failure.code}`] ??= {});
    byChannel[failure.channel] = (byChannel[failure.channel] ?? 0) + 1;
  }
  const run = {
    acks: publisher.acks.length,
    failures,
    rejected: publisher.rejected.length,
    reusedPositions: check.reusedPositions,
    delivery: check.subscribers,
    subscribers: subscribers.map((subscriber) => {
      const report = subscriber.report();
      return {
        name: report.name,
        reconnects: report.reconnects,
        closes: report.closes.map((close) => close.code),
        notRecovered: report.notRecovered.map(
          (e) => `${e.channel} ${e.since.epoch}:${e.since.offset} → ${e.current.epoch}:${e.current.offset}`,
        ),
        recovered: report.recovered,
        setupErrors: report.setupErrors.slice(0, 3),
      };
    }),
    problems: check.problems,
  };
  return JSON.stringify(run, null, 1);
}

function describeAnomaly(anomaly: Anomaly): string {
  const at = (p: Position | undefined) => (p === undefined ? '?' : `${p.epoch}:${p.offset}`);
  const where = `on ${anomaly.channel} (connection ${anomaly.connection})`;
  switch (anomaly.kind) {
    case 'duplicate':
      return `duplicate ${at(anomaly.got)} ${where}`;
    case 'out-of-order':
      return `out of order: ${at(anomaly.got)} after ${at(anomaly.after)} ${where}`;
    case 'gap':
      return `silent gap: ${at(anomaly.after)} → ${at(anomaly.got)} ${where}`;
  }
}

/**
 * Ends a run: stops the publisher, waits for the subscribers to catch up, and returns the check with an
 * account of the run for assertion messages (printed too when VERBOSE is set).
 */
export async function finishRun(
  publisher: CheckingPublisher,
  subscribers: readonly CheckedSubscriber[],
): Promise<{ check: DeliveryCheck; details: string }> {
  await publisher.stop();
  const check = await waitForDelivery(publisher.acks, subscribers);
  const details = describeRun(check, publisher, subscribers);
  if (process.env['VERBOSE']) console.log(details);
  return { check, details };
}
