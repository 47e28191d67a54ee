/**
 * Subscriptions the server made for the client: its personal channels, and those the app back end
 * added through the server API. They have no `Subscription` object; the client reports them through
 * its own `subscribed`, `publication` and `unsubscribed` events. Their positions are kept, so that a
 * reconnect names them in `connect`'s `subs` and personal channels resume without a gap.
 */
import type { PublicationFrame, StreamPosition, SubscribeResult } from '@herald/protocol';
import type { Publication } from './subscription.ts';

export interface ServerSubscribedContext {
  readonly channel: string;
  readonly recoverable: boolean;
  readonly position: StreamPosition | undefined;
  /** Whether the server resumed it from the position the client had before reconnecting. */
  readonly wasRecovering: boolean;
  /** When `wasRecovering`: whether nothing was missed. */
  readonly recovered: boolean;
}

export interface ServerSubscriptionEvents {
  subscribed(context: ServerSubscribedContext): void;
  publication(publication: Publication<unknown>): void;
  unsubscribed(context: { readonly channel: string; readonly code: number; readonly reason: string }): void;
}

/** Most positions one `connect` names (the server's limit). */
const MAX_SUBS = 64;

export class ServerSubscriptions {
  readonly #events: ServerSubscriptionEvents;
  /** By channel: the position of the last publication delivered, when the channel keeps history. */
  readonly #positions = new Map<string, StreamPosition | undefined>();
  /** Positions named in `connect` and not resumed yet: kept across failed connection attempts. */
  readonly #pending = new Map<string, StreamPosition>();
  /** Pending when the last connection was established: dropped at the next connect if still pending. */
  #stale = new Set<string>();

  constructor(events: ServerSubscriptionEvents) {
    this.#events = events;
  }

  /** The channels the server subscribed this client to. */
  channels(): string[] {
    return [...this.#positions.keys()];
  }

  /**
   * For `connect`: the positions to resume from. The server subscribes again only personal channels;
   * a position it did not resume during a whole connection is dropped at the next one.
   */
  takeSubs(): Record<string, { since: StreamPosition }> | undefined {
    for (const channel of this.#stale) this.#pending.delete(channel);
    this.#stale.clear();
    for (const [channel, position] of this.#positions)
      if (position !== undefined) this.#pending.set(channel, position);
    this.#positions.clear();
    if (this.#pending.size === 0) return undefined;
    const subs: Record<string, { since: StreamPosition }> = {};
    for (const [channel, since] of [...this.#pending].slice(-MAX_SUBS)) subs[channel] = { since };
    return subs;
  }

  /** The connection that `takeSubs` was for is established. */
  connected(): void {
    this.#stale = new Set(this.#pending.keys());
  }

  /** A `subscribe` push. */
  onSubscribe(channel: string, result: SubscribeResult): void {
    const wasRecovering = this.#pending.delete(channel);
    this.#stale.delete(channel);
    this.#positions.set(channel, undefined);
    for (const publication of result.publications ?? []) this.#deliver(channel, publication);
    const position =
      result.offset !== undefined && result.epoch !== undefined
        ? { offset: result.offset, epoch: result.epoch }
        : undefined;
    this.#positions.set(channel, position);
    this.#events.subscribed({
      channel,
      recoverable: result.recoverable,
      position,
      wasRecovering,
      recovered: wasRecovering && result.recovered === true,
    });
  }

  /** A publication push; false when it breaks the channel's order (the client then reconnects). */
  onPublication(channel: string, publication: PublicationFrame): boolean {
    if (!this.#positions.has(channel)) return true;
    const position = this.#positions.get(channel);
    const { offset, epoch } = publication;
    if (position !== undefined && offset !== undefined && epoch !== undefined) {
      if (epoch === position.epoch && offset <= position.offset) return true;
      if (epoch !== position.epoch || offset !== position.offset + 1) return false;
    }
    this.#deliver(channel, publication);
    return true;
  }

  /** An `unsubscribe` push. */
  onUnsubscribe(channel: string, code: number, reason: string): void {
    if (!this.#positions.delete(channel)) return;
    this.#events.unsubscribed({ channel, code, reason });
  }

  #deliver(channel: string, publication: PublicationFrame): void {
    const { offset, epoch } = publication;
    if (offset !== undefined && epoch !== undefined) this.#positions.set(channel, { offset, epoch });
    this.#events.publication({ channel, ...publication } as Publication<unknown>);
  }
}
