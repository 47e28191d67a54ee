/**
 * Keeps this node's clients in the engine's presence: adds a client when it subscribes to a channel
 * of a namespace with presence, removes it when it leaves (at once), tells the channel's subscribers
 * on every node where the namespace enables join and leave events, and refreshes every local client
 * every third of the time to live, so the clients of a node that dies without a word expire from
 * presence within it. Whichever node's refresh removes them announces their leaves.
 */
import type { Logger } from 'pino';
import type { JsonValue } from '@herald/protocol';
import type { PresenceEntry, PresenceStore } from '../engine/presence.ts';

/** What the tracker needs to know of a client. */
export interface PresenceClient {
  readonly id: string;
  readonly user: string;
  readonly info: JsonValue | undefined;
  /** A watcher, such as the dashboard: not part of the channel's presence, and no joins or leaves. */
  readonly invisible: boolean;
}

export interface PresenceTrackerOptions<C extends PresenceClient> {
  readonly store: PresenceStore;
  readonly ttlMs: number;
  readonly logger: Logger;
  /** Whether `channel` keeps presence, and whether its subscribers hear joins and leaves. */
  policy(channel: string): { readonly presence: boolean; readonly joinLeave: boolean };
  /** The channels with local subscribers, and who they are. */
  channels(): Iterable<[string, ReadonlySet<C>]>;
}

/** Entries per engine call: one Lua call blocks Redis while it runs. */
const CHUNK = 500;
/** How long closing waits for the last removals. */
const CLOSE_WAIT_MS = 2000;

export class PresenceTracker<C extends PresenceClient> {
  readonly #options: PresenceTrackerOptions<C>;
  readonly #timer: NodeJS.Timeout;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: PresenceTrackerOptions<C>) {
    this.#options = options;
    this.#timer = setInterval(() => this.refresh(), Math.max(100, Math.floor(options.ttlMs / 3)));
    this.#timer.unref();
  }

  join(channel: string, client: C): void {
    if (client.invisible) return;
    const { presence, joinLeave } = this.#options.policy(channel);
    const { store } = this.#options;
    const entry = entryOf(client);
    if (presence) this.#add(channel, 'add', [entry]);
    if (joinLeave) this.#track(channel, 'join', store.publishPresenceEvent(channel, { type: 'join', entry }));
  }

  leave(channel: string, client: C): void {
    if (client.invisible) return;
    const { presence, joinLeave } = this.#options.policy(channel);
    const { store } = this.#options;
    const entry = entryOf(client);
    if (!presence) {
      if (joinLeave) this.#announce(channel, 'leave', entry);
      return;
    }
    // Announced once the removal is done: after a join its refresh may be announcing (same connection,
    // so in order), and not at all if its leave was announced when it expired. Announced even when the
    // removal failed: the client is gone either way, and its entry expires.
    const removed = store.presenceRemove(channel, [entry]).then(
      (announced) => {
        if (announced.length === 0) this.#announce(channel, 'leave', entry);
      },
      (err: unknown) => {
        this.#announce(channel, 'leave', entry);
        throw err;
      },
    );
    this.#track(channel, 'remove', removed);
  }

  /** Refreshes every local client of every tracked channel. */
  refresh(): void {
    for (const [channel, clients] of this.#options.channels()) {
      if (!this.#options.policy(channel).presence) continue;
      const entries = [...clients].filter((client) => !client.invisible).map(entryOf);
      for (let start = 0; start < entries.length; start += CHUNK) {
        this.#add(channel, 'refresh', entries.slice(start, start + CHUNK));
      }
    }
  }

  /** Stops refreshing and waits (briefly) for removals still on their way. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    const wait = new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref());
    await Promise.race([Promise.allSettled([...this.#inFlight]), wait]);
  }

  /**
   * Adds or refreshes entries. The engine removes the channel's expired clients first — those of a
   * node that died without a word — and they are announced as leaves: this node has subscribers of
   * the channel, so somebody may be listening. Clients of this node that expired while it was cut off
   * from the engine, and were announced leaving, are announced joining again.
   */
  #add(channel: string, what: 'add' | 'refresh', entries: readonly PresenceEntry[]): void {
    const { store, ttlMs } = this.#options;
    const call = store.presenceAdd(channel, entries, ttlMs).then(({ expired, back }) => {
      this.announceExpired(channel, expired);
      if (back.length === 0) return;
      const returned = new Set(back);
      for (const entry of entries) if (returned.has(entry.client)) this.#announce(channel, 'join', entry);
    });
    this.#track(channel, what, call);
  }

  /** Announces the leaves of clients an engine call found expired (see PresenceExpired). */
  announceExpired(channel: string, expired: readonly PresenceEntry[]): void {
    for (const entry of expired) this.#announce(channel, 'leave', entry);
  }

  #announce(channel: string, type: 'join' | 'leave', entry: PresenceEntry): void {
    if (!this.#options.policy(channel).joinLeave) return;
    this.#track(channel, type, this.#options.store.publishPresenceEvent(channel, { type, entry }));
  }

  #track(channel: string, what: string, call: Promise<void>): void {
    const tracked = call.catch((err: unknown) => {
      // A refresh follows within a third of the TTL; a failed removal expires with the TTL.
      this.#options.logger.debug({ err, channel }, `presence ${what} failed`);
    });
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }
}

function entryOf(client: PresenceClient): PresenceEntry {
  return client.info === undefined
    ? { client: client.id, user: client.user }
    : { client: client.id, user: client.user, info: client.info };
}
