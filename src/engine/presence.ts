/**
 * Presence: which clients are subscribed to a channel, on every node. Each node adds its own clients
 * and refreshes them before they expire, so a node that dies without a word drops out of presence
 * within the time to live, while a clean leave removes a client at once. Counts (clients, distinct
 * users) are kept as counters beside the member list, so stats stay cheap for a channel with 100,000
 * members.
 */
import type { JsonValue } from '@herald/protocol';

/** One client present in a channel. */
export interface PresenceEntry {
  readonly client: string;
  readonly user: string;
  /** The `info` claim of the client's token. */
  readonly info?: JsonValue;
}

export interface PresencePage {
  readonly clients: PresenceEntry[];
  /** Pass back to read the next page; undefined on the last page. */
  readonly cursor: string | undefined;
}

export interface PresenceStats {
  /** Clients present. */
  readonly clients: number;
  /** Distinct users among them (anonymous clients, user "", are not counted as users). */
  readonly users: number;
}

/** A client joined or left a channel: sent to every node's subscribers of the channel. */
export interface PresenceEvent {
  readonly type: 'join' | 'leave';
  readonly entry: PresenceEntry;
}

/**
 * Clients an engine call found expired and removed (their node stopped refreshing them, having died
 * without a word): they left, and the caller tells the channel so. Every presence call removes them
 * first, and only the call that removed a client reports it.
 */
export interface PresenceExpired {
  readonly expired: PresenceEntry[];
}

/** What {@link PresenceStore.presenceAdd} changed besides refreshing. */
export interface PresenceAdded extends PresenceExpired {
  /**
   * Ids of the given clients that had expired and are back: their node was cut off from the engine for
   * longer than the time to live, their leave was announced, and now their join should be.
   */
  readonly back: string[];
}

export interface PresenceStore {
  /**
   * Adds clients to a channel's presence, or refreshes them: each expires `ttlMs` from now. Removes
   * the channel's expired clients first (their node stopped refreshing them, having died without a
   * word), and reports them, and which of `entries` were not present: see {@link PresenceAdded}.
   */
  presenceAdd(channel: string, entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceAdded>;
  /**
   * Removes clients from a channel's presence at once. Resolves to the ids of those that had expired
   * and been reported already (their leave was announced): they must not be announced twice.
   */
  presenceRemove(channel: string, entries: readonly PresenceEntry[]): Promise<string[]>;
  /** A page of the channel's presence, at most about `limit` clients, in no particular order. */
  presence(
    channel: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<PresencePage & PresenceExpired>;
  presenceStats(channel: string): Promise<PresenceStats & PresenceExpired>;
  /** Sends a join or leave event to every node subscribed to the channel (this one included). */
  publishPresenceEvent(channel: string, event: PresenceEvent): Promise<void>;
}
