/**
 * Keeps the live stream of every channel this node subscribes to continuous. Pub/sub is fire and
 * forget: a publication sent while the node's Redis connection was down, or while a Cluster shard
 * changed hands, never arrives. Because offsets grow by exactly one, the node can tell:
 *
 * - a **gap** (a publication whose offset skips ahead, or a position check that finds the engine
 *   ahead) is repaired from the history: live publications are held, the missed ones are read and
 *   passed on in order, then the held ones follow, with duplicates dropped;
 * - a **rewind** (a live publication with an offset the node already received live, or a position
 *   behind what it passed on) means the history was rewritten: a failover lost acknowledged writes
 *   and offsets are being handed out again. Nothing can repair that; `onRewound` ends the epoch;
 * - a **lost epoch** (a position check finds another epoch) means the history is gone; `onEpochLost`
 *   tells the subscribers still on the old one.
 *
 * What cannot be repaired is passed on as it is: each subscriber checks its own continuity and asks
 * its client to recover (close code 3007) rather than skip anything silently.
 */
import type { Publication, StreamPosition } from '../core/publication.ts';
import type { HistoryResult } from '../engine/broker.ts';

export interface ChannelStreamsOptions {
  /**
   * Reads the channel's position and the publications after `sinceOffset` (at most as many as its
   * history keeps); `sinceOffset` undefined reads the position only.
   */
  read(channel: string, sinceOffset: number | undefined): Promise<HistoryResult>;
  /** Passes a publication on to the channel's local subscribers. */
  deliver(publication: Publication): void;
  /** The channel's history was rewritten under the node: offsets up to `position.offset` were reused. */
  onRewound(channel: string, position: StreamPosition): void;
  /** The channel's history is gone: its epoch is now `position.epoch`. */
  onEpochLost(channel: string, position: StreamPosition): void;
  /** A repair or check failed (the engine is unreachable); what was held is passed on unrepaired. */
  onError(err: unknown, channel: string): void;
}

interface Stream {
  /** The epoch of the last publication passed on; "" until the first one or the first position read. */
  epoch: string;
  /** Offset of the last publication passed on (or of the position the stream was seeded with). */
  offset: number;
  /** Offset of the last publication received live in this epoch: live offsets never repeat. */
  live: number;
  /** While a repair runs: the live publications that arrived meanwhile, in order. */
  held: Publication[] | undefined;
}

export class ChannelStreams {
  readonly #options: ChannelStreamsOptions;
  readonly #streams = new Map<string, Stream>();

  constructor(options: ChannelStreamsOptions) {
    this.#options = options;
  }

  /** Starts tracking a channel that keeps history (the node just subscribed the engine to it). */
  open(channel: string): void {
    if (!this.#streams.has(channel))
      this.#streams.set(channel, { epoch: '', offset: 0, live: 0, held: undefined });
  }

  close(channel: string): void {
    this.#streams.delete(channel);
  }

  channels(): IterableIterator<string> {
    return this.#streams.keys();
  }

  /** The position of the last publication passed on, if known. */
  position(channel: string): StreamPosition | undefined {
    const stream = this.#streams.get(channel);
    return stream === undefined || stream.epoch === ''
      ? undefined
      : { offset: stream.offset, epoch: stream.epoch };
  }

  /** A publication from the engine's live stream. */
  receive(publication: Publication): void {
    const stream = this.#streams.get(publication.channel);
    if (stream === undefined || publication.offset === 0) {
      this.#options.deliver(publication);
      return;
    }
    if (stream.held !== undefined) {
      stream.held.push(publication);
      return;
    }
    this.#accept(publication.channel, stream, publication, true);
  }

  /**
   * A position read after the node subscribed: seeds a stream that has seen nothing yet, so that a
   * gap before its first live publication is noticed.
   */
  seed(channel: string, position: StreamPosition): void {
    const stream = this.#streams.get(channel);
    if (stream === undefined || stream.epoch !== '') return;
    stream.epoch = position.epoch;
    stream.offset = position.offset;
  }

  /**
   * Compares the channel with the engine's position and repairs what the node missed. A check whose
   * read raced a live publication is harmless: the repair passes on what the history holds and the
   * live copy is then dropped as a duplicate. Resolves to false when the engine could not be read.
   */
  async check(channel: string): Promise<boolean> {
    const stream = this.#streams.get(channel);
    if (stream === undefined || stream.held !== undefined) return true;
    const { epoch, offset } = stream;
    let position: StreamPosition;
    try {
      position = (await this.#options.read(channel, undefined)).position;
    } catch (err) {
      this.#options.onError(err, channel);
      return false;
    }
    // Act only on what this read can prove: the stream must not have moved on while it ran.
    if (this.#streams.get(channel) !== stream || stream.held !== undefined || stream.epoch !== epoch)
      return true;
    if (epoch === '') {
      this.seed(channel, position);
    } else if (position.epoch !== epoch) {
      stream.epoch = position.epoch;
      stream.offset = position.offset;
      stream.live = 0;
      this.#options.onEpochLost(channel, position);
    } else if (position.offset < offset) {
      this.#rewound(channel, stream, position);
    } else if (position.offset > stream.offset) {
      stream.held = [];
      await this.#repair(channel, stream);
    }
    return true;
  }

  #accept(channel: string, stream: Stream, publication: Publication, repairable: boolean): void {
    const { offset, epoch } = publication;
    if (epoch !== stream.epoch) {
      // The first publication seen, or a new life of the channel (its subscribers judge for themselves).
      stream.epoch = epoch;
      stream.offset = offset;
      stream.live = offset;
      this.#options.deliver(publication);
      return;
    }
    if (offset <= stream.live) {
      this.#rewound(channel, stream, { offset, epoch });
      return;
    }
    if (offset > stream.offset + 1 && repairable) {
      // Held, not yet counted as received: it comes back through here when the repair ends.
      stream.held = [publication];
      void this.#repair(channel, stream);
      return;
    }
    stream.live = offset;
    if (offset <= stream.offset) return; // already passed on by a repair
    stream.offset = offset;
    this.#options.deliver(publication);
  }

  /** Reads what the stream missed and passes it on, then the live publications held meanwhile. */
  async #repair(channel: string, stream: Stream): Promise<void> {
    // Held publications up to the position the read saw were covered by it: a gap left among them is
    // one the history cannot fill (trimmed or expired), and retrying would loop. Newer ones may still
    // reveal a new gap. After a failed read nothing is retried.
    let coveredUpTo = Number.POSITIVE_INFINITY;
    try {
      const { publications, position } = await this.#options.read(channel, stream.offset);
      if (this.#streams.get(channel) !== stream) return;
      if (position.epoch === stream.epoch) {
        coveredUpTo = position.offset;
        for (const publication of publications) {
          if (publication.offset <= stream.offset) continue;
          stream.offset = publication.offset;
          this.#options.deliver(publication);
        }
      }
    } catch (err) {
      this.#options.onError(err, channel);
    } finally {
      const held = stream.held ?? [];
      stream.held = undefined;
      if (this.#streams.get(channel) === stream) {
        for (const publication of held) this.#resume(channel, stream, publication, coveredUpTo);
      }
    }
  }

  /** Passes on a publication held during a repair, unless passing on an earlier one started another. */
  #resume(channel: string, stream: Stream, publication: Publication, coveredUpTo: number): void {
    if (stream.held !== undefined) stream.held.push(publication);
    else this.#accept(channel, stream, publication, publication.offset > coveredUpTo);
  }

  #rewound(channel: string, stream: Stream, position: StreamPosition): void {
    stream.epoch = '';
    stream.offset = 0;
    stream.live = 0;
    this.#options.onRewound(channel, position);
  }
}
