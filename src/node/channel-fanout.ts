/**
 * Fans publications out per channel and per event-loop turn rather than per publication and per
 * subscriber. Publications reaching the node in one turn (a batch publish, one read from Redis
 * holding many messages) are queued by channel; when the turn ends, each channel's queue becomes one
 * {@link PublicationRun} — pushes encoded once, joined once — and every subscriber of the channel
 * takes the whole run in one call. A subscriber whose stream simply continues (the common case)
 * checks its continuity once per run and writes the shared buffer; only subscribers being set up,
 * at a seam with their history, or out of line go through the run publication by publication.
 *
 * The run is built when the turn ends, not when a publication arrives, so a subscriber's state is
 * judged at the moment it is written to. Code that judges subscribers' positions against the
 * channel's (the stream repairs in node.ts) first drains the channel with {@link flushChannel}.
 */
import type { Publication } from '../core/publication.ts';
import type { Flushable, FlushScheduler } from './flush-scheduler.ts';

/** The span of offsets a run covers, when they are consecutive within one epoch. */
export interface RunSpan {
  readonly epoch: string;
  readonly first: number;
  readonly last: number;
}

/** One channel's publications of one turn, in order, with their pushes encoded and joined once. */
export interface PublicationRun {
  readonly channel: string;
  readonly publications: readonly Publication[];
  /** The push message of each publication. */
  readonly pushes: readonly Buffer[];
  /** `pushes` joined by newlines: the payload of one frame carrying the whole run. */
  readonly joined: Buffer;
  /** Undefined when the run is not one consecutive span (no history, or a gap or epoch change inside). */
  readonly span: RunSpan | undefined;
}

export interface RunSubscriber {
  deliverRun(run: PublicationRun): void;
}

export interface ChannelFanOutOptions<S extends RunSubscriber> {
  readonly scheduler: FlushScheduler;
  /** The channel's local subscribers. */
  subscribers(channel: string): ReadonlySet<S> | undefined;
  /** The push message for a publication. */
  encode(publication: Publication): Buffer;
  /** A run is being handed to the channel's subscribers (once per run, however many subscribers). */
  onDelivering?(publications: readonly Publication[]): void;
}

interface Queued {
  readonly publications: Publication[];
  readonly pushes: Buffer[];
}

export class ChannelFanOut<S extends RunSubscriber> implements Flushable {
  readonly #options: ChannelFanOutOptions<S>;
  #queued = new Map<string, Queued>();
  #delivered = 0;

  constructor(options: ChannelFanOutOptions<S>) {
    this.#options = options;
  }

  /** Publications handed to subscribers since the start, one per subscriber (counted per run). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Queues a publication for the channel's subscribers; they get it when the turn ends. */
  queue(publication: Publication): void {
    const channel = publication.channel;
    if (this.#options.subscribers(channel) === undefined) return;
    let queued = this.#queued.get(channel);
    if (queued === undefined) {
      queued = { publications: [], pushes: [] };
      this.#queued.set(channel, queued);
      this.#options.scheduler.markDirty(this);
    }
    queued.publications.push(publication);
    queued.pushes.push(this.#options.encode(publication));
  }

  /** Hands every queued run to its subscribers (the scheduler calls this when the turn ends). */
  flush(): void {
    const queued = this.#queued;
    if (queued.size === 0) return;
    this.#queued = new Map();
    for (const [channel, run] of queued) this.#fanOut(channel, run);
  }

  /** Hands the channel's queued run to its subscribers now. */
  flushChannel(channel: string): void {
    const queued = this.#queued.get(channel);
    if (queued === undefined) return;
    this.#queued.delete(channel);
    this.#fanOut(channel, queued);
  }

  #fanOut(channel: string, queued: Queued): void {
    const subscribers = this.#options.subscribers(channel);
    if (subscribers === undefined) return;
    const run: PublicationRun = {
      channel,
      publications: queued.publications,
      pushes: queued.pushes,
      joined: this.#options.scheduler.join(queued.pushes),
      span: spanOf(queued.publications),
    };
    this.#delivered += queued.publications.length * subscribers.size;
    this.#options.onDelivering?.(queued.publications);
    for (const subscriber of subscribers) subscriber.deliverRun(run);
  }
}

/** The run's span when its publications have consecutive offsets in one epoch. */
export function spanOf(publications: readonly Publication[]): RunSpan | undefined {
  const first = publications[0];
  if (first === undefined || first.epoch === '') return undefined;
  let expected = first.offset;
  for (const publication of publications) {
    if (publication.offset !== expected || publication.epoch !== first.epoch) return undefined;
    expected += 1;
  }
  return { epoch: first.epoch, first: first.offset, last: expected - 1 };
}
