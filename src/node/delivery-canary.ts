/**
 * A node's check of its own delivery path. Every interval it publishes a numbered probe to its own
 * canary channel through the engine and expects it back through its engine subscription. A probe not
 * back within the timeout means publications reach the engine but not this node — a subscriber
 * connection that looks up and delivers nothing (a stalled proxy, a half-open TCP connection), or a
 * subscription the engine lost — which no connection error reports. The node then reports not ready
 * and repairs the path; the first probe back ends the episode.
 *
 * A probe that could not even be published (the engine is unreachable) says nothing about delivery:
 * readiness already covers that case.
 */
export interface DeliveryCanaryOptions {
  /** Publishes probe `sequence` to the canary channel; rejects when the engine refused it. */
  publish(sequence: number): Promise<void>;
  readonly intervalMs: number;
  /** How long a probe may take to come back before the path is declared broken. */
  readonly timeoutMs: number;
  /** The path broke (a probe is `overdueMs` late); called again every timeout while it stays broken. */
  onBroken(overdueMs: number): void;
  /** The path works again after being broken. */
  onRepaired(): void;
}

export class DeliveryCanary {
  readonly #options: DeliveryCanaryOptions;
  #timer: NodeJS.Timeout | undefined;
  #sequence = 0;
  /** The oldest probe not back yet, and when it was sent. */
  #outstanding: { readonly sequence: number; readonly sentAt: number } | undefined;
  #broken = false;
  #lastBrokenReport = 0;

  constructor(options: DeliveryCanaryOptions) {
    this.#options = options;
  }

  get healthy(): boolean {
    return !this.#broken;
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** A probe came back through the engine subscription. */
  received(sequence: number): void {
    if (this.#outstanding !== undefined && sequence >= this.#outstanding.sequence)
      this.#outstanding = undefined;
    if (this.#broken) {
      this.#broken = false;
      this.#options.onRepaired();
    }
  }

  #tick(now = Date.now()): void {
    const outstanding = this.#outstanding;
    if (outstanding !== undefined) {
      const overdue = now - outstanding.sentAt;
      const { timeoutMs } = this.#options;
      if (overdue >= timeoutMs && (!this.#broken || now - this.#lastBrokenReport >= timeoutMs)) {
        this.#broken = true;
        this.#lastBrokenReport = now;
        this.#options.onBroken(overdue);
      }
    }
    const sequence = ++this.#sequence;
    // The oldest unanswered probe tells how long the path has been silent. Recorded before the
    // publish: the memory engine hands the probe back before the publish resolves.
    this.#outstanding ??= { sequence, sentAt: now };
    this.#options.publish(sequence).catch(() => {
      if (this.#outstanding?.sequence === sequence) this.#outstanding = undefined;
    });
  }
}
