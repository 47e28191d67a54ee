/**
 * The one place that names Redis keys and pub/sub channels. Every key of a channel carries the
 * channel name as its hash tag (`{chat:room-42}`), so the channel's keys and its pub/sub channel live
 * in one Cluster slot and the publish script can touch them all. Channel names cannot contain braces,
 * so the tag is always exactly the channel name.
 */
export class RedisKeys {
  readonly #prefix: string;

  /** `prefix` separates deployments sharing one Redis (HERALD_REDIS_PREFIX); default "herald:". */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** The history stream: entries with ids `<offset>-0`, field `p` holding the encoded publication. */
  stream(channel: string): string {
    return `${this.#prefix}s:{${channel}}`;
  }

  /** The stream's meta hash: `e` epoch, `o` last offset. Outlives the stream. */
  meta(channel: string): string {
    return `${this.#prefix}m:{${channel}}`;
  }

  /** The result of a publish with idempotency key `key`. */
  idempotency(channel: string, key: string): string {
    return `${this.#prefix}i:{${channel}}:${key}`;
  }

  /**
   * Presence: the clients present (sorted set by expiry), their entries, clients per user, and the
   * clients that expired and were announced leaving.
   */
  presence(channel: string): [members: string, entries: string, users: string, departed: string] {
    return [
      `${this.#prefix}pm:{${channel}}`,
      `${this.#prefix}pe:{${channel}}`,
      `${this.#prefix}pu:{${channel}}`,
      `${this.#prefix}pd:{${channel}}`,
    ];
  }

  /** The pub/sub channel that carries the channel's publications. */
  pubsub(channel: string): string {
    return `${this.#prefix}p:{${channel}}`;
  }

  /** The pub/sub channel of control messages to every node of this deployment, or to node `node`. */
  control(node?: string): string {
    return node === undefined ? `${this.#prefix}control` : `${this.#prefix}control:${node}`;
  }

  /** The Herald channel a pub/sub channel name belongs to, or undefined for another deployment's. */
  channelOfPubsub(pubsubChannel: string): string | undefined {
    const head = `${this.#prefix}p:{`;
    if (!pubsubChannel.startsWith(head) || !pubsubChannel.endsWith('}')) return undefined;
    return pubsubChannel.slice(head.length, -1);
  }
}
