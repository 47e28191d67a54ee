/**
 * Checks one subscriber's stream of one channel as it arrives: within an epoch every publication's offset
 * is the previous one's plus 1. Anything else is counted: an offset skipped is a gap (publications lost),
 * an offset at or below the last one a duplicate, a new epoch an epoch change (the stream restarted), and
 * a recovery the server refused (`recovered: false`) as unrecoverable. The soak's channels keep history
 * far longer than any of its reconnects, so every one of those counts is a failure.
 */

/** A position in a channel's stream. */
export interface Position {
  readonly offset: number;
  readonly epoch: string;
}

/** What the checks counted; one tally is shared by all the clients of a load process. */
export interface StreamTally {
  /** Publications pushed live, in order. */
  live: number;
  /** Publications received in a subscribe reply (recovered after a reconnect), in order. */
  recovered: number;
  /** Times an offset was skipped. */
  gaps: number;
  /** Publications skipped by those gaps. */
  missing: number;
  /** Publications received at or below the last offset. */
  duplicates: number;
  /** Times the epoch changed under a subscriber. */
  epochChanges: number;
  /** Recoveries the server answered with `recovered: false`. */
  unrecoverable: number;
}

export function emptyTally(): StreamTally {
  return { live: 0, recovered: 0, gaps: 0, missing: 0, duplicates: 0, epochChanges: 0, unrecoverable: 0 };
}

/** The parts of a subscribe reply that the check reads. */
export interface SubscribeReply {
  readonly offset: number;
  readonly epoch: string;
  readonly recovered?: boolean;
  readonly publications?: readonly Position[];
}

/** One client's stream of one channel. */
export class StreamCheck {
  #position: Position | undefined;
  readonly #tally: StreamTally;

  constructor(tally: StreamTally) {
    this.#tally = tally;
  }

  /** The position of the last publication received (or of the first subscribe reply). */
  get position(): Position | undefined {
    return this.#position;
  }

  /**
   * A subscribe reply. `since` is what the client asked to recover from (undefined on its first subscribe,
   * which only sets the position).
   */
  subscribed(reply: SubscribeReply, since: Position | undefined): void {
    if (since === undefined) {
      this.#position = { offset: reply.offset, epoch: reply.epoch };
      return;
    }
    if (reply.recovered !== true) {
      this.#tally.unrecoverable += 1;
      this.#position = { offset: reply.offset, epoch: reply.epoch };
      return;
    }
    this.#position = since;
    for (const publication of reply.publications ?? []) this.#accept(publication, 'recovered');
    // The reply's position is the last publication before the pushes; one past what it held is a gap.
    if (reply.epoch === this.#position.epoch && reply.offset > this.#position.offset) {
      this.#tally.gaps += 1;
      this.#tally.missing += reply.offset - this.#position.offset;
      this.#position = { offset: reply.offset, epoch: reply.epoch };
    }
  }

  /** A live push; true when it was the next publication in order (worth timing). */
  push(publication: Position): boolean {
    return this.#accept(publication, 'live');
  }

  #accept(publication: Position, via: 'live' | 'recovered'): boolean {
    const last = this.#position;
    if (last === undefined || publication.epoch !== last.epoch) {
      if (last !== undefined) this.#tally.epochChanges += 1;
      this.#position = publication;
      return false;
    }
    if (publication.offset <= last.offset) {
      this.#tally.duplicates += 1;
      return false;
    }
    if (publication.offset > last.offset + 1) {
      this.#tally.gaps += 1;
      this.#tally.missing += publication.offset - last.offset - 1;
    }
    this.#tally[via] += 1;
    this.#position = { offset: publication.offset, epoch: publication.epoch };
    return publication.offset === last.offset + 1;
  }
}
