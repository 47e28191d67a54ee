/**
 * A token bucket: `rate` actions a second on average, bursts of up to `burst`. Two numbers per bucket
 * and no timer: the bucket refills lazily from the time of the last take, so it costs nothing per
 * idle connection.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #refilledAt: number;

  /** `rate` 0 means unlimited. */
  constructor(rate: number, burst: number, now = performance.now()) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#refilledAt = now;
  }

  /** Takes one token; false when the bucket is empty (the action should be refused). */
  take(now = performance.now()): boolean {
    if (this.#rate === 0) return true;
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether a token is there to take, without taking it. */
  peek(now = performance.now()): boolean {
    if (this.#rate === 0) return true;
    return this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate >= 1;
  }
}
