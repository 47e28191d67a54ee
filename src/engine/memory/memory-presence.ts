/** Presence inside one process (the memory engine), with the semantics of presence.lua. */
import type {
  PresenceAdded,
  PresenceEntry,
  PresenceExpired,
  PresencePage,
  PresenceStats,
  PresenceStore,
} from '../presence.ts';

interface ChannelPresence {
  readonly members: Map<string, { entry: PresenceEntry; expiresAt: number }>;
  readonly users: Map<string, number>;
  /** No member expires before this (ms, `performance.now()`): spares a scan of every member per call. */
  nextExpiry: number;
}

export class MemoryPresence implements Omit<PresenceStore, 'publishPresenceEvent'> {
  readonly #channels = new Map<string, ChannelPresence>();
  /**
   * Per channel, the clients that expired and were reported (their leave was announced), until they
   * come back or leave. Only this process adds clients, so each one does one or the other.
   */
  readonly #departed = new Map<string, Set<string>>();

  async presenceAdd(
    channel: string,
    entries: readonly PresenceEntry[],
    ttlMs: number,
  ): Promise<PresenceAdded> {
    const expired = this.#prune(channel);
    const back: string[] = [];
    let presence = this.#channels.get(channel);
    if (presence === undefined)
      this.#channels.set(
        channel,
        (presence = { members: new Map(), users: new Map(), nextExpiry: Infinity }),
      );
    const expiresAt = performance.now() + ttlMs;
    presence.nextExpiry = Math.min(presence.nextExpiry, expiresAt);
    for (const entry of entries) {
      if (!presence.members.has(entry.client)) {
        if (entry.user !== '') presence.users.set(entry.user, (presence.users.get(entry.user) ?? 0) + 1);
        if (this.#undepart(channel, entry.client)) back.push(entry.client);
      }
      presence.members.set(entry.client, { entry, expiresAt });
    }
    return { expired, back };
  }

  async presenceRemove(channel: string, entries: readonly PresenceEntry[]): Promise<string[]> {
    const presence = this.#channels.get(channel);
    const announced: string[] = [];
    for (const { client } of entries) {
      const removed = presence !== undefined && this.#remove(channel, presence, client);
      if (!removed && this.#undepart(channel, client)) announced.push(client);
    }
    return announced;
  }

  async presence(
    channel: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<PresencePage & PresenceExpired> {
    const expired = this.#prune(channel);
    const presence = this.#channels.get(channel);
    if (presence === undefined) return { clients: [], cursor: undefined, expired };
    const clients = [...presence.members.keys()].sort();
    // The cursor is the index of the page's first client in that order, like Redis's numeric cursors.
    const start = cursor === undefined ? 0 : Number(cursor);
    const page = clients.slice(start, start + limit);
    const next = start + page.length;
    return {
      clients: page.map((client) => presence.members.get(client)?.entry).filter((e) => e !== undefined),
      cursor: next < clients.length ? String(next) : undefined,
      expired,
    };
  }

  async presenceStats(channel: string): Promise<PresenceStats & PresenceExpired> {
    const expired = this.#prune(channel);
    const presence = this.#channels.get(channel);
    return { clients: presence?.members.size ?? 0, users: presence?.users.size ?? 0, expired };
  }

  /** Removes the channel's expired clients and marks them departed; returns their entries. */
  #prune(channel: string): PresenceEntry[] {
    const presence = this.#channels.get(channel);
    const now = performance.now();
    if (presence === undefined || presence.nextExpiry > now) return [];
    const expired: PresenceEntry[] = [];
    let nextExpiry = Infinity;
    for (const [client, { entry, expiresAt }] of presence.members) {
      if (expiresAt > now) {
        nextExpiry = Math.min(nextExpiry, expiresAt);
        continue;
      }
      this.#remove(channel, presence, client);
      expired.push(entry);
      let departed = this.#departed.get(channel);
      if (departed === undefined) this.#departed.set(channel, (departed = new Set()));
      departed.add(client);
    }
    presence.nextExpiry = nextExpiry;
    return expired;
  }

  /** Drops the client's departed mark; true when it had one. */
  #undepart(channel: string, client: string): boolean {
    const departed = this.#departed.get(channel);
    if (departed?.delete(client) !== true) return false;
    if (departed.size === 0) this.#departed.delete(channel);
    return true;
  }

  /** Removes a client; true when it was present. */
  #remove(channel: string, presence: ChannelPresence, client: string): boolean {
    const member = presence.members.get(client);
    if (member === undefined) return false;
    presence.members.delete(client);
    if (member.entry.user !== '') {
      const left = (presence.users.get(member.entry.user) ?? 1) - 1;
      if (left > 0) presence.users.set(member.entry.user, left);
      else presence.users.delete(member.entry.user);
    }
    if (presence.members.size === 0) this.#channels.delete(channel);
    return true;
  }
}
