/**
 * The embedded engine: history, positions and delivery inside one process. A first-class engine for
 * single-node deployments and tests, with the same semantics as the Redis engine: offsets grow by one
 * per publication, history is capped and expires after its lifetime, the epoch outlives the history
 * (so a reader can tell "expired" from "new channel") and changes only when the channel's state is lost.
 */
import { MemoryPresence } from './memory-presence.ts';
import type {
  PresenceAdded,
  PresenceEntry,
  PresenceEvent,
  PresenceExpired,
  PresencePage,
  PresenceStats,
} from '../presence.ts';
import { randomBytes } from 'node:crypto';
import type { Publication, StreamPosition } from '../../core/publication.ts';
import type {
  Broker,
  BrokerEventHandler,
  ChannelPolicy,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PublishItem,
  PublishOptions,
  PublishResult,
} from '../broker.ts';
import { RingBuffer } from './ring-buffer.ts';

export interface MemoryBrokerOptions {
  /** How long a channel's epoch and offset outlive its last publication (ms). Default 24 hours. */
  readonly metaTtlMs?: number;
  /** How often expired state is swept (ms). Default 30 seconds. */
  readonly sweepIntervalMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

interface IdempotentResult {
  readonly result: PublishResult;
  readonly expiresAt: number;
}

interface ChannelState {
  epoch: string;
  offset: number;
  stream: RingBuffer<Publication>;
  streamExpiresAt: number;
  metaExpiresAt: number;
}

const EPOCH_BYTES = 6;
/** Random bytes for epochs, drawn 4 KiB at a time. */
let epochPool = Buffer.alloc(0);
let epochPoolAt = 0;

/**
 * A random epoch name (8 base64url characters). The Redis engine passes a candidate with every
 * publish (the script uses it only for a channel that has none), so this runs once per publication:
 * drawing 6 bytes from a pool instead of calling `randomBytes` each time took 17% of a node's CPU
 * off the publish path.
 */
export function newEpoch(): string {
  if (epochPoolAt + EPOCH_BYTES > epochPool.length) {
    epochPool = randomBytes(4096);
    epochPoolAt = 0;
  }
  const epoch = epochPool.toString('base64url', epochPoolAt, epochPoolAt + EPOCH_BYTES);
  epochPoolAt += EPOCH_BYTES;
  return epoch;
}

export class MemoryBroker implements Broker {
  readonly #presence = new MemoryPresence();
  readonly kind = 'memory';
  readonly ready = true;
  readonly #channels = new Map<string, ChannelState>();
  readonly #subscribed = new Set<string>();
  /** Recent idempotency keys, by channel and key (`channel \0 key`), on channels with or without history. */
  readonly #idempotent = new Map<string, IdempotentResult>();
  readonly #metaTtlMs: number;
  readonly #sweepIntervalMs: number;
  readonly #now: () => number;
  #handler: BrokerEventHandler | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#metaTtlMs = options.metaTtlMs ?? 24 * 3600_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  async start(handler: BrokerEventHandler, _node?: string): Promise<void> {
    this.#handler = handler;
    this.#sweepTimer = setInterval(() => this.sweep(), this.#sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /** Nothing to repair: publications are handed over in memory. */
  async repairDelivery(): Promise<void> {}

  async subscribe(channel: string): Promise<void> {
    this.#subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subscribed.delete(channel);
  }

  async publish(channel: string, options: PublishOptions): Promise<PublishResult> {
    return this.#publish(channel, options, this.#now());
  }

  /** One publish after the other, with nothing in between: the whole batch is one atomic step. */
  async publishBatch(
    channel: string,
    items: readonly PublishItem[],
    policy: ChannelPolicy,
  ): Promise<PublishResult[]> {
    const now = this.#now();
    return items.map((item) => this.#publish(channel, { ...item, ...policy }, now));
  }

  #publish(channel: string, options: PublishOptions, now: number): PublishResult {
    const key = options.idempotencyKey === undefined ? undefined : `${channel}\0${options.idempotencyKey}`;
    const earlier = key === undefined ? undefined : this.#idempotent.get(key);
    if (earlier !== undefined && earlier.expiresAt > now) return { ...earlier.result, duplicate: true };
    const result = this.#store(channel, options, now);
    if (key !== undefined) {
      this.#idempotent.set(key, { result, expiresAt: now + (options.idempotencyTtlMs ?? 300_000) });
    }
    return result;
  }

  #store(channel: string, options: PublishOptions, now: number): PublishResult {
    const policy = options.history;
    if (policy === undefined || policy.size === 0) {
      this.#deliver({ channel, offset: 0, epoch: '', data: options.data, time: now, ...infoOf(options) });
      return { duplicate: false };
    }
    const state = this.#state(channel, policy, now, true);
    state.offset += 1;
    const publication: Publication = {
      channel,
      offset: state.offset,
      epoch: state.epoch,
      data: options.data,
      time: now,
      ...infoOf(options),
    };
    state.stream.push(publication);
    state.streamExpiresAt = now + policy.ttlMs;
    state.metaExpiresAt = now + Math.max(this.#metaTtlMs, policy.ttlMs);
    this.#deliver(publication);
    return { position: { offset: state.offset, epoch: state.epoch }, duplicate: false };
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    const state = this.#state(channel, query.history, this.#now(), false);
    const position: StreamPosition = { offset: state.offset, epoch: state.epoch };
    return { publications: readStream(state, query), position };
  }

  async removeHistory(channel: string): Promise<void> {
    this.#channels.get(channel)?.stream.clear();
  }

  async endEpoch(channel: string, epoch: string): Promise<void> {
    if (this.#channels.get(channel)?.epoch === epoch) this.#channels.delete(channel);
  }

  /** One process is the whole deployment: the message comes back to this node, asynchronously like Redis. */
  async publishControl(message: string, _to?: string): Promise<void> {
    const handler = this.#handler;
    queueMicrotask(() => handler?.onControl(message));
  }

  presenceAdd(channel: string, entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceAdded> {
    return this.#presence.presenceAdd(channel, entries, ttlMs);
  }

  presenceRemove(channel: string, entries: readonly PresenceEntry[]): Promise<string[]> {
    return this.#presence.presenceRemove(channel, entries);
  }

  presence(
    channel: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<PresencePage & PresenceExpired> {
    return this.#presence.presence(channel, cursor, limit);
  }

  presenceStats(channel: string): Promise<PresenceStats & PresenceExpired> {
    return this.#presence.presenceStats(channel);
  }

  async publishPresenceEvent(channel: string, event: PresenceEvent): Promise<void> {
    if (this.#subscribed.has(channel)) this.#handler?.onPresenceEvent?.(channel, event);
  }

  async close(): Promise<void> {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#subscribed.clear();
    this.#handler = undefined;
  }

  /** Drops expired history, idempotency keys and channel state. */
  sweep(): void {
    const now = this.#now();
    for (const [channel, state] of this.#channels) {
      if (this.#expired(channel, state, now)) {
        this.#channels.delete(channel);
        continue;
      }
      if (state.streamExpiresAt <= now && state.stream.length > 0) state.stream.clear();
    }
    for (const [key, entry] of this.#idempotent) if (entry.expiresAt <= now) this.#idempotent.delete(key);
  }

  /**
   * Whether the channel's epoch and offset are gone. Not while the node follows the channel: its
   * subscribers are on this epoch, and a new one would make them all recover for nothing (the Redis
   * engine keeps it alive the same way, through the node's periodic position reads).
   */
  #expired(channel: string, state: ChannelState, now: number): boolean {
    return state.metaExpiresAt <= now && !this.#subscribed.has(channel);
  }

  #deliver(publication: Publication): void {
    if (this.#subscribed.has(publication.channel)) this.#handler?.onPublication(publication);
  }

  /**
   * The channel's state, created (with a new epoch) when missing or expired. A channel that is only
   * read (subscribed, history) gets an empty buffer and lives for the history lifetime, so reads of
   * many channels nobody publishes to cannot hold memory for a day.
   */
  #state(channel: string, policy: HistoryPolicy, now: number, publishing: boolean): ChannelState {
    let state = this.#channels.get(channel);
    if (state !== undefined && this.#expired(channel, state, now)) state = undefined;
    if (state === undefined) {
      state = {
        epoch: newEpoch(),
        offset: 0,
        stream: new RingBuffer(publishing ? policy.size : 0),
        streamExpiresAt: now + policy.ttlMs,
        metaExpiresAt: now + policy.ttlMs,
      };
      this.#channels.set(channel, state);
    }
    if (state.streamExpiresAt <= now) state.stream.clear();
    if (publishing && state.stream.capacity !== policy.size)
      state.stream = resized(state.stream, policy.size);
    return state;
  }
}

function infoOf(options: PublishOptions): Pick<Publication, 'info'> {
  return options.info === undefined ? {} : { info: options.info };
}

function resized(stream: RingBuffer<Publication>, size: number): RingBuffer<Publication> {
  const next = new RingBuffer<Publication>(size);
  for (let i = 0; i < stream.length; i++) next.push(stream.at(i) as Publication);
  return next;
}

/** Reads a window of the stream. Offsets in the stream are contiguous, ending at `state.offset`. */
function readStream(state: ChannelState, query: HistoryQuery): Publication[] {
  const { stream } = state;
  if (query.limit === 0 || stream.length === 0) return [];
  const oldest = state.offset - stream.length + 1;
  const from = Math.max(oldest, (query.sinceOffset ?? 0) + 1);
  if (from > state.offset) return [];
  const count = Math.min(query.limit, state.offset - from + 1);
  const out: Publication[] = [];
  if (query.reverse) {
    for (let offset = state.offset; offset > state.offset - count; offset--) {
      out.push(stream.at(offset - oldest) as Publication);
    }
  } else {
    for (let offset = from; offset < from + count; offset++)
      out.push(stream.at(offset - oldest) as Publication);
  }
  return out;
}
