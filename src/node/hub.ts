/** The node's local state: connected clients and which of them subscribe to which channel. */

export interface HubClient {
  readonly id: string;
  readonly user: string;
}

export class Hub<C extends HubClient> {
  readonly #channels = new Map<string, Set<C>>();
  readonly #clients = new Map<string, C>();
  readonly #users = new Map<string, Set<C>>();
  #subscriptions = 0;

  addClient(client: C): void {
    this.#clients.set(client.id, client);
    addTo(this.#users, client.user, client);
  }

  removeClient(client: C): void {
    if (this.#clients.get(client.id) !== client) return;
    this.#clients.delete(client.id);
    removeFrom(this.#users, client.user, client);
  }

  client(id: string): C | undefined {
    return this.#clients.get(id);
  }

  userClientCount(user: string): number {
    return this.#users.get(user)?.size ?? 0;
  }

  userClients(user: string): readonly C[] {
    return [...(this.#users.get(user) ?? [])];
  }

  /** Adds a subscriber; true when it is the channel's first on this node. */
  subscribe(channel: string, client: C): boolean {
    const before = this.#channels.get(channel)?.size ?? 0;
    addTo(this.#channels, channel, client);
    const after = this.#channels.get(channel)?.size ?? 0;
    this.#subscriptions += after - before;
    return before === 0 && after === 1;
  }

  /** Removes a subscriber; true when the channel has no subscriber left on this node. */
  unsubscribe(channel: string, client: C): boolean {
    if (!removeFrom(this.#channels, channel, client)) return false;
    this.#subscriptions -= 1;
    return !this.#channels.has(channel);
  }

  subscribers(channel: string): ReadonlySet<C> | undefined {
    return this.#channels.get(channel);
  }

  hasSubscribers(channel: string): boolean {
    return this.#channels.has(channel);
  }

  channels(): IterableIterator<[string, ReadonlySet<C>]> {
    return this.#channels.entries();
  }

  channelNames(): IterableIterator<string> {
    return this.#channels.keys();
  }

  get clientCount(): number {
    return this.#clients.size;
  }
  get channelCount(): number {
    return this.#channels.size;
  }
  get subscriptionCount(): number {
    return this.#subscriptions;
  }
  allClients(): IterableIterator<C> {
    return this.#clients.values();
  }
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): boolean {
  const set = map.get(key);
  if (set === undefined || !set.delete(value)) return false;
  if (set.size === 0) map.delete(key);
  return true;
}
