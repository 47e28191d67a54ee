/**
 * Keeps the live stream of every channel this node subscribes to continuous. Pub/sub is fire and
 * forget: a publication sent while the node's Redis connection was down, or while a Cluster shard
 * changed hands, never arrives. Because offsets grow by exactly one, the node can tell:
 *
 * - a **gap** (a publication whose offset skips ahead, or a check that finds the engine ahead) is
 *   repaired from the history: live publications are held, the missed ones are read and passed on
 *   in order, then the held ones follow, with duplicates dropped;
 * - an **unrepairable gap** (the history no longer holds what was missed) is reported through
 *   `onUnrepairable`, so the subscribers behind it recover instead of waiting for a publication
 *   that will never come;
 * - a **lost epoch** (another epoch in the engine: the history is gone) is reported through
 *   `onEpochLost`, and the new epoch is read from its start;
 * - a **rewind** (a live offset the node already received live, or an engine position behind what
 *   the node passed on) means the history was rewritten: a failover lost acknowledged writes and
 *   offsets are being handed out again. Nothing can repair that; `onRewound` ends the epoch.
 *
 * What reaches the subscribers out of line anyway, each of them detects (ClientSession.deliver) and
 * asks its client to recover (close code 3007) rather than skip anything silently.
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
  /** Publications up to `position.offset` were missed and the history no longer holds them. */
  onUnrepairable(channel: string, position: StreamPosition): void;
  /**
   * A check found publications that never arrived live, and nothing arrived live since the check
   * before: the engine subscription itself looks dead and should be renewed.
   */
  onDeaf(channel: string): void;
}

interface Stream {
  /** The epoch of the last publication passed on; "" until the first one or the first position read. */
  epoch: string;
  /** Offset of the last publication passed on (or of the position the stream was seeded with). */
  offset: number;
  /** Offset of the last publication received live in this epoch: live offsets never repeat. */
  live: number;
  /** The epoch the stream left last: its publications still in flight are stale. */
  left: string;
  /** Whether a publication arrived live since the last check. */
  heard: boolean;
  /** While a repair runs: the live publications that arrived meanwhile, in order. */
  held: Publication[] | undefined;
}

export class ChannelStreams {
  readonly #options: ChannelStreamsOptions;
  readonly #streams = new Map<string, Stream>();

  constructor(options: ChannelStreamsOptions) {
    this.#options = options;
  }

  /** Starts tracking a channel that keeps history (the node is subscribing the engine to it). */
  open(channel: string): void {
    if (!this.#streams.has(channel)) {
      this.#streams.set(channel, { epoch: '', offset: 0, live: 0, left: '', heard: false, held: undefined });
    }
  }

  close(channel: string): void {
    this.#streams.delete(channel);
  }

  channels(): IterableIterator<string> {
    return this.#streams.keys();
  }

  /** A publication from the engine's live stream. */
  receive(publication: Publication): void {
    const stream = this.#streams.get(publication.channel);
    if (stream === undefined || publication.offset === 0) {
      this.#options.deliver(publication);
      return;
    }
    stream.heard = true;
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
   * Compares a quiet channel with the engine and repairs what the node missed, in one read of what
   * follows the last publication passed on (usually nothing). Resolves to false when the engine
   * could not be read.
   *
   * A channel that received publications live since the last check is left alone: pub/sub keeps a
   * channel's order, so a loss there shows as a gap in the next live publication. Checking it would
   * race the publications still in flight to this node, and under load those can outnumber the
   * history, which would make a repair skip them. Only a quiet channel can hide a lost tail, and
   * there a publication in flight is covered by the history.
   */
  async check(channel: string): Promise<boolean> {
    const stream = this.#streams.get(channel);
    if (stream === undefined || stream.held !== undefined) return true;
    if (stream.heard) {
      stream.heard = false;
      return true;
    }
    if (stream.epoch === '') {
      try {
        this.seed(channel, (await this.#options.read(channel, undefined)).position);
        return true;
      } catch {
        return false;
      }
    }
    const { epoch, offset } = stream;
    stream.held = [];
    const read = await this.#repair(channel, stream);
    // node-redis can miss a Cluster's notice that a slot moved, and then stays subscribed to a shard
    // that no longer sends anything: the history fills while nothing arrives live.
    if (read && !stream.heard && stream.epoch === epoch && stream.offset > offset) {
      this.#options.onDeaf(channel);
    }
    return read;
  }

  #accept(channel: string, stream: Stream, publication: Publication, repairable: boolean): void {
    const { offset, epoch } = publication;
    if (epoch !== stream.epoch) {
      if (epoch === stream.left) return; // sent before the epoch changed, arriving late
      if (stream.epoch === '') {
        // The first publication seen: nothing is known of what came before it.
        stream.epoch = epoch;
        stream.offset = offset - 1;
      } else {
        // A new life of the channel: it starts at offset 1, which this node may have missed too.
        this.#enterEpoch(stream, epoch);
      }
    } else if (offset <= stream.live) {
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

  /**
   * Reads what the stream missed and passes it on, then the live publications held meanwhile.
   * Resolves to false when the engine could not be read.
   */
  async #repair(channel: string, stream: Stream): Promise<boolean> {
    // Held publications up to the position the read saw were covered by it: a gap left among them is
    // one the history cannot fill, and retrying would loop. Newer ones may still reveal a new gap.
    // After a failed read nothing is retried.
    let coveredUpTo = Number.POSITIVE_INFINITY;
    let read = true;
    try {
      const startOffset = stream.offset;
      let { publications, position } = await this.#options.read(channel, startOffset);
      if (this.#streams.get(channel) !== stream) return true;
      if (position.epoch !== stream.epoch) {
        this.#enterEpoch(stream, position.epoch);
        this.#options.onEpochLost(channel, position);
        ({ publications, position } = await this.#options.read(channel, 0));
        if (this.#streams.get(channel) !== stream || position.epoch !== stream.epoch) return true;
      } else if (position.offset < startOffset) {
        this.#rewound(channel, stream, position);
        return true;
      }
      coveredUpTo = position.offset;
      for (const publication of publications) {
        if (publication.offset <= stream.offset) continue;
        stream.offset = publication.offset;
        this.#options.deliver(publication);
      }
      if (stream.offset < position.offset && !stream.held?.some((p) => p.offset === stream.offset + 1)) {
        // The history starts after what was missed, and no held publication continues the stream.
        this.#options.onUnrepairable(channel, position);
        stream.offset = position.offset;
      }
    } catch {
      read = false;
    } finally {
      const held = stream.held ?? [];
      stream.held = undefined;
      if (this.#streams.get(channel) === stream) {
        for (const publication of held) this.#resume(channel, stream, publication, coveredUpTo);
      }
    }
    return read;
  }

  /** Passes on a publication held during a repair, unless passing on an earlier one started another. */
  #resume(channel: string, stream: Stream, publication: Publication, coveredUpTo: number): void {
    if (stream.held !== undefined) stream.held.push(publication);
    else this.#accept(channel, stream, publication, publication.offset > coveredUpTo);
  }

  #enterEpoch(stream: Stream, epoch: string): void {
    stream.left = stream.epoch;
    stream.epoch = epoch;
    stream.offset = 0;
    stream.live = 0;
  }

  /** Starts over: every subscriber is made to recover, and the next publication seeds the stream. */
  #rewound(channel: string, stream: Stream, position: StreamPosition): void {
    stream.epoch = '';
    stream.offset = 0;
    stream.live = 0;
    this.#options.onRewound(channel, position);
  }
}
