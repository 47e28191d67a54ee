/**
 * The clock benchmarks stamp publications with. Publishers put a publication's scheduled send time
 * in its data as `"t"` (ms since the Unix epoch, microsecond decimals); subscribers in other
 * processes read it back. `performance.timeOrigin` comes from the system clock, so processes on one
 * machine agree to well under a millisecond.
 */

/** Milliseconds since the Unix epoch, with sub-millisecond precision and a monotonic clock. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
