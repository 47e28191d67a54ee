/**
 * When the primary of `herald serve --workers` restarts a worker that died, and when it gives up.
 *
 * A worker that dies before it listens, or soon after, most likely dies of something a restart does not
 * fix (port taken, Redis refusing the password): each such quick failure in a row doubles the delay
 * before the next try, and after a few the primary gives up instead of spinning. A worker that had been
 * listening for a while died of something passing (a crash, the OOM killer, a stray kill): it is
 * restarted after the shortest delay and its count starts again.
 */

export interface RestartPolicyOptions {
  /** Delay before the first restart after a quick failure; doubles with each one in a row. */
  readonly initialDelayMs: number;
  /** The longest delay between restarts. */
  readonly maxDelayMs: number;
  /** A worker listening at least this long before it died counts as having run well. */
  readonly stableAfterMs: number;
  /** Quick failures in a row (of one worker slot) after which the primary gives up. */
  readonly maxQuickFailures: number;
}

/** 250 ms, 500 ms, 1 s, 2 s, then give up at the fifth quick failure: about 4 s plus the start times. */
export const RESTART_DEFAULTS: RestartPolicyOptions = {
  initialDelayMs: 250,
  maxDelayMs: 5000,
  stableAfterMs: 10_000,
  maxQuickFailures: 5,
};

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly quickFailures: number }
  | { readonly action: 'give-up'; readonly quickFailures: number };

export class RestartPolicy {
  readonly #options: RestartPolicyOptions;
  /** Quick failures in a row, per worker index. */
  readonly #failures = new Map<number, number>();

  constructor(options: RestartPolicyOptions = RESTART_DEFAULTS) {
    this.#options = options;
  }

  get options(): RestartPolicyOptions {
    return this.#options;
  }

  /**
   * The worker with this index died. `listenedMs` is how long it had been listening; undefined when it
   * died before it listened.
   */
  onExit(index: number, listenedMs: number | undefined): RestartDecision {
    const { initialDelayMs, maxDelayMs, stableAfterMs, maxQuickFailures } = this.#options;
    if (listenedMs !== undefined && listenedMs >= stableAfterMs) {
      this.#failures.set(index, 0);
      return { action: 'restart', delayMs: initialDelayMs, quickFailures: 0 };
    }
    const failures = (this.#failures.get(index) ?? 0) + 1;
    this.#failures.set(index, failures);
    if (failures >= maxQuickFailures) return { action: 'give-up', quickFailures: failures };
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** (failures - 1));
    return { action: 'restart', delayMs, quickFailures: failures };
  }
}
