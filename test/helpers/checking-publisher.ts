/**
 * A publisher for fault and chaos tests: publishes continuously through the HTTP API of one or more
 * nodes, retrying a failed publish with the same idempotency key, and records every acknowledged
 * publication. See checking-subscriber.ts for how it is used with the subscribers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Position } from './checking-subscriber.ts';
import { waitFor as waitUntil } from './herald.ts';

/** A publication the server acknowledged (HTTP 2xx). */
export interface Ack {
  readonly channel: string;
  /** The idempotency key, also `data.id`. */
  readonly id: string;
  /** Sequence number within the channel's publications by this publisher, from 1. */
  readonly n: number;
  readonly offset: number;
  readonly epoch: string;
  /** When the first attempt was sent, and when the acknowledging answer arrived (`Date.now()`). */
  readonly sentAt: number;
  readonly ackedAt: number;
  readonly attempts: number;
}

/** One failed attempt (it is retried with the same key). `status` 0: no HTTP answer (network, timeout). */
export interface PublishFailure {
  readonly channel: string;
  readonly id: string;
  readonly status: number;
  /** The `HERALD_ERR_*` code of the answer, or the network error's message. */
  readonly code: string;
  readonly at: number;
}

/** Options for {@link CheckingPublisher.start}. */
export interface CheckingPublisherOptions {
  /** Base URLs (`http://127.0.0.1:<port>`) of the nodes; publications go to them round robin. */
  readonly apiUrls: readonly string[];
  readonly apiKey: string;
  /** One publishing loop per channel: each channel's publications are sent one after another. */
  readonly channels: readonly string[];
  /** Pause between two publications of one channel, ms. Default 10. */
  readonly intervalMs?: number;
  /** Pause before retrying a failed attempt, ms. Default 50. */
  readonly retryDelayMs?: number;
  /** An attempt without an answer by then is abandoned (an ambiguous failure) and retried, ms. Default 3000. */
  readonly requestTimeoutMs?: number;
  /** Prefix of the idempotency keys. Default: random. */
  readonly name?: string;
}

/** Publishes continuously with safe retries; see the file comment. */
export class CheckingPublisher {
  readonly #options: CheckingPublisherOptions;
  readonly #prefix: string;
  readonly #acks: Ack[] = [];
  readonly #failures: PublishFailure[] = [];
  readonly #rejected: PublishFailure[] = [];
  #next = 0;
  #stopping = false;
  #drainUntil = Infinity;
  #loops: Promise<void>[] = [];

  private constructor(options: CheckingPublisherOptions) {
    if (options.apiUrls.length === 0) throw new Error('CheckingPublisher needs at least one URL');
    this.#options = options;
    this.#prefix = options.name ?? `p${Math.random().toString(36).slice(2, 8)}`;
  }

  static start(options: CheckingPublisherOptions): CheckingPublisher {
    const publisher = new CheckingPublisher(options);
    publisher.#loops = options.channels.map((channel) => publisher.#publishLoop(channel));
    return publisher;
  }

  /** Every acknowledged publication, in the order the answers arrived. */
  get acks(): readonly Ack[] {
    return this.#acks;
  }

  /** Every failed attempt (each was retried). */
  get failures(): readonly PublishFailure[] {
    return this.#failures;
  }

  /** Publications given up because the server refused them for good (4xx): a test bug, not a fault. */
  get rejected(): readonly PublishFailure[] {
    return this.#rejected;
  }

  /** Resolves once `count` more publications are acknowledged than now. */
  async acknowledged(count: number, timeoutMs = 15_000): Promise<void> {
    const target = this.#acks.length + count;
    await waitUntil(() => this.#acks.length >= target, timeoutMs, `${count} more acknowledged publishes`);
  }

  /**
   * Starts no new publication; the ones under way keep retrying for up to `drainMs` (then they are left
   * unacknowledged, which is allowed). Resolves when every loop ended.
   */
  async stop(drainMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#drainUntil = Date.now() + drainMs;
    await Promise.all(this.#loops);
  }

  async #publishLoop(channel: string): Promise<void> {
    const interval = this.#options.intervalMs ?? 10;
    for (let n = 1; !this.#stopping; n++) {
      await this.#publishOne(channel, n);
      if (interval > 0) await sleep(interval);
    }
  }

  /** Publishes `{id, n}` until acknowledged (or refused for good, or the drain deadline passes). */
  async #publishOne(channel: string, n: number): Promise<void> {
    const id = `${this.#prefix}-${channel}-${n}`;
    const sentAt = Date.now();
    for (let attempts = 1; Date.now() < this.#drainUntil; attempts++) {
      const url = this.#options.apiUrls[this.#next++ % this.#options.apiUrls.length] ?? '';
      const outcome = await this.#attempt(url, channel, id, n);
      if ('offset' in outcome) {
        this.#acks.push({ channel, id, n, ...outcome, sentAt, ackedAt: Date.now(), attempts });
        return;
      }
      const failure = { channel, id, ...outcome, at: Date.now() };
      if (outcome.status >= 400 && outcome.status < 500) {
        this.#rejected.push(failure);
        return;
      }
      this.#failures.push(failure);
      await sleep(this.#options.retryDelayMs ?? 50);
    }
  }

  async #attempt(
    url: string,
    channel: string,
    id: string,
    n: number,
  ): Promise<Position | { status: number; code: string }> {
    try {
      const response = await fetch(`${url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `apikey ${this.#options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data: { id, n }, idempotencyKey: id }),
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs ?? 3000),
      });
      const body = (await response.json()) as { offset?: number; epoch?: string; error?: { code?: string } };
      if (response.ok && typeof body.offset === 'number' && typeof body.epoch === 'string')
        return { offset: body.offset, epoch: body.epoch };
      return { status: response.status, code: body.error?.code ?? `HTTP ${response.status}` };
    } catch (err) {
      return { status: 0, code: err instanceof Error ? err.message : String(err) };
    }
  }
}
