/**
 * A log line that may repeat without bound — auth failures from a misconfigured or hostile client,
 * connection errors while Redis is down — written at most `limit` times per interval. The next line
 * after a quiet spell says how many were left out, so the count is never lost.
 */
import type { Logger } from 'pino';

export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #level: 'info' | 'warn' | 'error';
  readonly #limit: number;
  readonly #intervalMs: number;
  #windowStart = 0;
  #written = 0;
  #suppressed = 0;

  constructor(
    logger: Logger,
    level: 'info' | 'warn' | 'error',
    { limit = 5, intervalMs = 10_000 }: { limit?: number; intervalMs?: number } = {},
  ) {
    this.#logger = logger;
    this.#level = level;
    this.#limit = limit;
    this.#intervalMs = intervalMs;
  }

  log(fields: Record<string, unknown>, message: string, now = Date.now()): void {
    if (now - this.#windowStart >= this.#intervalMs) {
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written >= this.#limit) {
      this.#suppressed += 1;
      return;
    }
    this.#written += 1;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#logger[this.#level](suppressed === 0 ? fields : { ...fields, suppressed }, message);
  }
}
