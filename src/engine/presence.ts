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

export interface PresenceStore {
  /** Adds clients to a channel's presence, or refreshes them: each expires `ttlMs` from now. */
  presenceAdd(channel: string, entries: readonly PresenceEntry[], ttlMs: number): Promise<void>;
  /** Removes clients from a channel's presence at once. */
  presenceRemove(channel: string, entries: readonly PresenceEntry[]): Promise<void>;
  /** A page of the channel's presence, at most about `limit` clients, in no particular order. */
  presence(channel: string, cursor: string | undefined, limit: number): Promise<PresencePage>;
  presenceStats(channel: string): Promise<PresenceStats>;
  /** Sends a join or leave event to every node subscribed to the channel (this one included). */
  publishPresenceEvent(channel: string, event: PresenceEvent): Promise<void>;
}
