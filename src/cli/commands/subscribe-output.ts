/**
 * How `herald subscribe` prints: one JSON line per publication on stdout, in the order the server
 * guarantees — recovered publications from the subscribe reply first, then live ones — and short notes
 * about positions and recovery on stderr, so stdout stays machine-readable.
 */
import type { PublicationFrame, StreamPosition, SubscribeResult } from '@herald/protocol';
import type { CliIo } from './io.ts';

/** One publication as a JSON line (without the newline). */
export function publicationLine(channel: string, pub: PublicationFrame): string {
  return JSON.stringify({
    channel,
    offset: pub.offset,
    epoch: pub.epoch,
    data: pub.data,
    ...(pub.info === undefined ? {} : { info: pub.info }),
    time: pub.time,
  });
}

/**
 * Holds a channel's live publications while its subscribe call is in flight: a push can be handled
 * before the code awaiting the reply runs, and printing it first would put it before the recovered
 * publications it follows.
 */
export class PublicationPrinter {
  readonly #io: CliIo;
  readonly #held = new Map<string, PublicationFrame[]>();

  constructor(io: CliIo) {
    this.#io = io;
  }

  /** Call before subscribing to `channel`. */
  hold(channel: string): void {
    this.#held.set(channel, []);
  }

  live(channel: string, pub: PublicationFrame): void {
    const held = this.#held.get(channel);
    if (held === undefined) this.#print(channel, pub);
    else held.push(pub);
  }

  /** Prints the recovered publications, then the held live ones that come after them. */
  subscribed(channel: string, result: SubscribeResult, since: StreamPosition | undefined): void {
    const held = this.#held.get(channel) ?? [];
    this.#held.delete(channel);
    this.#io.writeErr(`${subscribedNote(channel, result, since)}\n`);
    let last = since?.offset;
    for (const pub of result.publications ?? []) {
      this.#print(channel, pub);
      last = pub.offset ?? last;
    }
    for (const pub of held) {
      // The server joins history and live without duplicates; this only guards the hand-over here.
      if (last === undefined || pub.offset === undefined || pub.offset > last) this.#print(channel, pub);
    }
  }

  #print(channel: string, pub: PublicationFrame): void {
    this.#io.writeOut(`${publicationLine(channel, pub)}\n`);
  }
}

/** The stderr note after subscribing: where the stream is, and whether recovery worked. */
export function subscribedNote(
  channel: string,
  result: SubscribeResult,
  since: StreamPosition | undefined,
): string {
  const position =
    result.offset === undefined ? 'no history' : `offset ${result.offset}, epoch ${result.epoch ?? '?'}`;
  if (since === undefined || result.recovered === undefined) return `subscribed to ${channel} (${position})`;
  const from = `offset ${since.offset}, epoch ${since.epoch}`;
  if (result.recovered) {
    const count = result.publications?.length ?? 0;
    return `subscribed to ${channel}: recovered ${count} publication${count === 1 ? '' : 's'} after ${from}`;
  }
  return `note: could not recover ${channel} from ${from}: publications since then may be missing; continuing from ${position}`;
}
