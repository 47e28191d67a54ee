/**
 * Reconnect delays: exponential growth with full jitter (a uniformly random delay between 0 and the
 * exponential bound), so that thousands of clients losing one node at once spread their reconnects
 * over the whole window instead of arriving together.
 */
export interface BackoffOptions {
  /** Bound of the first delay, ms. */
  readonly minDelayMs: number;
  /** Largest bound, ms. */
  readonly maxDelayMs: number;
}

/** The delay before reconnect attempt `attempt` (0 for the first), in ms. */
export function backoffDelay(attempt: number, options: BackoffOptions, random = Math.random): number {
  const bound = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * bound);
}
