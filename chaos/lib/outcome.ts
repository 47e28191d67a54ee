/**
 * What a chaos scenario reports: one row of figures from the delivery check of its run, and the table
 * the runner prints.
 */
import type { Ack, CheckingPublisher } from '../../test/helpers/checking-publisher.ts';
import { finishRun, type CheckedSubscriber, type DeliveryCheck } from '../../test/helpers/delivery-check.ts';

/** One scenario's outcome (one table row). */
export interface Row {
  readonly scenario: string;
  /** Publications the server acknowledged (HTTP 2xx). */
  readonly acknowledged: number;
  /** Acknowledged publications received, summed over subscribers (one per subscriber of its channel). */
  readonly delivered: number;
  /** Of those, received in a subscribe reply after a reconnect (from history), not live. */
  readonly recovered: number;
  /** Acknowledged publications a subscriber did not receive but was told `recovered: false` about. */
  readonly told: number;
  /** Acknowledged publications a subscriber neither received nor was told about. Must be 0. */
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /**
   * From each fault until every subscriber caught up: received the first publication acknowledged after
   * the fault, and the last one the fault held back (recovered from history, or received more than
   * {@link LATE_MS} after its acknowledgement, or covered by a `recovered: false`). The longest over the
   * faults, ms; what happens after the next fault counts for that one.
   */
  readonly recoverMs: number;
  /** Every problem the delivery check found (lost, duplicates, out of order, silent gaps). */
  readonly problems: readonly string[];
  /** The account of the run (JSON) for diagnosing a failure. */
  readonly details: string;
}

/** A publication received this long after its acknowledgement was held back by the fault. */
export const LATE_MS = 250;

/** The figures of a {@link Row}: what {@link tally} counts. */
export type Tally = Omit<Row, 'scenario' | 'details'>;

/**
 * Stops the publisher, waits for the subscribers to catch up (delivery-check's {@link finishRun}) and
 * sums the outcome. `faults` are the times (`Date.now()`) the faults happened, in order.
 */
export async function measure(
  scenario: string,
  publisher: CheckingPublisher,
  subscribers: readonly CheckedSubscriber[],
  faults: readonly number[],
): Promise<Row> {
  const { check, details } = await finishRun(publisher, subscribers);
  return { scenario, ...tally(publisher.acks, subscribers, faults, check), details };
}

/** Sums a delivery check and what the subscribers saw into the figures of a row. */
export function tally(
  acks: readonly Ack[],
  subscribers: readonly CheckedSubscriber[],
  faults: readonly number[],
  check: DeliveryCheck,
): Tally {
  const sum = (f: (s: (typeof check.subscribers)[number]) => number) =>
    check.subscribers.reduce((total, s) => total + f(s), 0);
  let duplicated = 0;
  let outOfOrder = 0;
  let recovered = 0;
  for (const subscriber of subscribers) {
    const report = subscriber.report();
    duplicated += report.duplicates.length;
    outOfOrder += report.outOfOrder.length;
    recovered += subscriber.receipts().filter((receipt) => receipt.via === 'recovery').length;
  }
  return {
    acknowledged: acks.length,
    delivered: sum((s) => s.received),
    recovered,
    told: sum((s) => s.lostButTold),
    lost: sum((s) => s.missing),
    duplicated,
    outOfOrder,
    recoverMs: recoveryTime(acks, subscribers, faults),
    problems: check.problems,
  };
}

/** See {@link Row.recoverMs}. */
export function recoveryTime(
  acks: readonly Ack[],
  subscribers: readonly CheckedSubscriber[],
  faults: readonly number[],
): number {
  const ackedAt = new Map(acks.map((ack) => [`${ack.channel}|${ack.id}`, ack.ackedAt]));
  const late: number[] = [];
  for (const subscriber of subscribers) {
    for (const receipt of subscriber.receipts()) {
      const acked = ackedAt.get(`${receipt.channel}|${receipt.id ?? ''}`);
      if (receipt.via === 'recovery' || (acked !== undefined && receipt.at - acked > LATE_MS))
        late.push(receipt.at);
    }
    for (const event of subscriber.notRecovered()) late.push(event.at);
    // And the first publication acknowledged after each fault: publishing and delivery work again.
    for (const fault of faults) {
      let first = Infinity;
      for (const receipt of subscriber.receipts()) {
        const acked = ackedAt.get(`${receipt.channel}|${receipt.id ?? ''}`);
        if (acked !== undefined && acked >= fault) first = Math.min(first, receipt.at);
      }
      if (first < Infinity) late.push(first);
    }
  }
  let longest = 0;
  faults.forEach((fault, i) => {
    const next = faults[i + 1] ?? Infinity;
    for (const at of late) if (at >= fault && at < next) longest = Math.max(longest, at - fault);
  });
  return longest;
}

/** Whether a row breaks a guarantee: anything lost, duplicated, out of order, or a silent gap. */
export function failed(row: Row): boolean {
  return row.problems.length > 0 || row.lost + row.duplicated + row.outOfOrder > 0;
}

const COLUMNS = [
  'Scenario',
  'Acknowledged',
  'Delivered',
  'Recovered',
  'Told not recoverable',
  'Lost',
  'Duplicated',
  'Out of order',
  'Time to recover',
] as const;

/** The rows as a Markdown table. */
export function table(rows: readonly Row[]): string {
  const cells = rows.map((row) => [
    row.scenario,
    ...[
      row.acknowledged,
      row.delivered,
      row.recovered,
      row.told,
      row.lost,
      row.duplicated,
      row.outOfOrder,
    ].map((n) => n.toLocaleString('en-US')),
    `${(row.recoverMs / 1000).toFixed(1)} s`,
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(COLUMNS), rule, ...cells.map(line)].join('\n');
}
