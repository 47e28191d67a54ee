/** Presence inside one process (the memory engine). */
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
}

export class MemoryPresence implements Omit<PresenceStore, 'publishPresenceEvent'> {
  readonly #channels = new Map<string, ChannelPresence>();

  async presenceAdd(
    channel: string,
    entries: readonly PresenceEntry[],
    ttlMs: number,
  ): Promise<PresenceAdded> {
    const expired = this.#prune(channel);
    const added: string[] = [];
    let presence = this.#channels.get(channel);
    if (presence === undefined)
      this.#channels.set(channel, (presence = { members: new Map(), users: new Map() }));
    const expiresAt = Date.now() + ttlMs;
    for (const entry of entries) {
      if (!presence.members.has(entry.client)) {
        added.push(entry.client);
        if (entry.user !== '') presence.users.set(entry.user, (presence.users.get(entry.user) ?? 0) + 1);
      }
      presence.members.set(entry.client, { entry, expiresAt });
    }
    return { expired, added };
  }

  async presenceRemove(channel: string, entries: readonly PresenceEntry[]): Promise<void> {
    const presence = this.#channels.get(channel);
    if (presence === undefined) return;
    for (const { client } of entries) this.#remove(channel, presence, client);
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

  /** Removes the channel's expired clients; returns their entries. */
  #prune(channel: string): PresenceEntry[] {
    const presence = this.#channels.get(channel);
    if (presence === undefined) return [];
    const now = Date.now();
    const expired: PresenceEntry[] = [];
    for (const [client, { entry, expiresAt }] of presence.members) {
      if (expiresAt > now) continue;
      this.#remove(channel, presence, client);
      expired.push(entry);
    }
    return expired;
  }

  #remove(channel: string, presence: ChannelPresence, client: string): void {
    const member = presence.members.get(client);
    if (member === undefined) return;
    presence.members.delete(client);
    if (member.entry.user === '') return this.#dropIfEmpty(channel, presence);
    const left = (presence.users.get(member.entry.user) ?? 1) - 1;
    if (left > 0) presence.users.set(member.entry.user, left);
    else presence.users.delete(member.entry.user);
    this.#dropIfEmpty(channel, presence);
  }

  #dropIfEmpty(channel: string, presence: ChannelPresence): void {
    if (presence.members.size === 0) this.#channels.delete(channel);
  }
}
