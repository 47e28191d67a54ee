/**
 * The soak's load, in processes of its own (bench's {@link LoadProcess}, killed with this process): two
 * subscriber processes holding half the clients each, and one publisher. Client `i` subscribes to
 * channel `i % channels` on node `floor(i / channels) % nodes`, so every channel has subscribers on every
 * node and each node holds about half the clients.
 */
import { LatencyHistogram } from '../../bench/lib/histogram.ts';
import { LoadProcess } from '../../bench/lib/load-process.ts';
import type { PublisherResult, PublisherTake } from '../load/publisher-process.ts';
import type { FinishResult, OpenRequest, TakeResult } from '../load/subscriber-process.ts';
import { emptyTally, type StreamTally } from './stream-check.ts';

const SUBSCRIBER_PROCESSES = 2;
const OPEN_CONCURRENCY = 50;
const CALL_TIMEOUT_MS = 10_000;

export interface LoadOptions {
  readonly urls: readonly string[];
  readonly apiKey: string;
  readonly secret: string;
  readonly channels: readonly string[];
  readonly subscribers: number;
  readonly rate: number;
  readonly payload: number;
}

/** One sampling interval's counts from every load process. */
export interface LoadTake extends StreamTally {
  readonly published: number;
  readonly publishFailed: number;
  readonly skipped: number;
  readonly lag: LatencyHistogram;
  readonly reconnects: number;
  readonly unexpectedCloses: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly subscribed: number;
}

export class Load {
  readonly #options: LoadOptions;
  readonly #subscribers: LoadProcess[];
  readonly #publisher: LoadProcess;

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#subscribers = Array.from(
      { length: SUBSCRIBER_PROCESSES },
      (_, i) => new LoadProcess(`subscribers-${i}`, 'soak/load/subscriber-process.ts'),
    );
    this.#publisher = new LoadProcess('publisher', 'soak/load/publisher-process.ts');
  }

  /** Opens every subscriber; throws if any fails. */
  async open(): Promise<void> {
    const { subscribers, channels, urls } = this.#options;
    const clients = Array.from({ length: subscribers }, (_, i) => ({
      channel: channels[i % channels.length] as string,
      node: Math.floor(i / channels.length) % urls.length,
    }));
    const share = Math.ceil(subscribers / this.#subscribers.length);
    const results = await Promise.all(
      this.#subscribers.map((process, p) =>
        process.call<{ opened: number; failed: number; firstError?: string }>(
          'open',
          {
            name: `p${p}`,
            urls,
            secret: this.#options.secret,
            clients: clients.slice(p * share, (p + 1) * share),
            concurrency: OPEN_CONCURRENCY,
          } satisfies OpenRequest,
          300_000,
        ),
      ),
    );
    const failed = results.reduce((sum, result) => sum + result.failed, 0);
    if (failed > 0)
      throw new Error(
        `${failed} subscribers could not subscribe: ${results.find((r) => r.firstError)?.firstError}`,
      );
  }

  /** Starts the publisher (it runs until {@link finish}). */
  async publish(): Promise<void> {
    const { urls, apiKey, channels, rate, payload } = this.#options;
    await this.#publisher.call('start', { urls, apiKey, channels, rate, payloadBytes: payload });
  }

  async churn(perSecond: number): Promise<void> {
    await Promise.all(
      this.#subscribers.map((process) => process.call('churn', perSecond / this.#subscribers.length)),
    );
  }

  /** The counts since the previous call, summed over the load processes. */
  async take(): Promise<LoadTake> {
    const [publisher, ...subscribers] = await Promise.all([
      this.#publisher.call<PublisherTake>('take', null, CALL_TIMEOUT_MS),
      ...this.#subscribers.map((process) => process.call<TakeResult>('take', null, CALL_TIMEOUT_MS)),
    ]);
    const lag = new LatencyHistogram();
    const tally = emptyTally();
    let reconnects = 0;
    let unexpectedCloses = 0;
    let errors = 0;
    let subscribed = 0;
    const errorSamples: string[] =
      publisher?.firstError === undefined ? [] : [`publish: ${publisher.firstError}`];
    for (const take of subscribers) {
      lag.merge(take.lag);
      for (const key of Object.keys(tally) as (keyof StreamTally)[]) tally[key] += take[key];
      reconnects += take.reconnects;
      unexpectedCloses += take.unexpectedCloses;
      errors += take.errors;
      subscribed += take.subscribed;
      errorSamples.push(...take.errorSamples);
    }
    return {
      ...tally,
      published: publisher?.published ?? 0,
      publishFailed: publisher?.failed ?? 0,
      skipped: publisher?.skipped ?? 0,
      lag,
      reconnects,
      unexpectedCloses,
      errors,
      errorSamples,
      subscribed,
    };
  }

  /**
   * Stops the churn and the publisher, then waits (at most `waitMs`) for every subscriber to be back and
   * to have its channel's last acknowledged publication.
   */
  async finish(waitMs: number): Promise<{ publisher: PublisherResult; subscribers: FinishResult }> {
    await this.churn(0);
    const publisher = await this.#publisher.call<PublisherResult>('stop', null, 60_000);
    const results = await Promise.all(
      this.#subscribers.map((process) =>
        process.call<FinishResult>('finish', { final: publisher.final, waitMs }, waitMs + 30_000),
      ),
    );
    return {
      publisher,
      subscribers: {
        notSubscribed: results.reduce((sum, r) => sum + r.notSubscribed, 0),
        behind: results.reduce((sum, r) => sum + r.behind, 0),
        shortfall: results.reduce((sum, r) => sum + r.shortfall, 0),
        samples: results.flatMap((r) => r.samples),
      },
    };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#subscribers, this.#publisher].map((process) => process.stop()));
  }
}
