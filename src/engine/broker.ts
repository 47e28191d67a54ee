/**
 * The engine's broker interface: stores each channel's history, assigns stream positions, and carries
 * publications to every node subscribed to a channel. The node calls it; it calls back only through
 * the handler given to `start`, and knows nothing about clients.
 */
import type { PresenceEvent, PresenceStore } from './presence.ts';
import { HeraldError } from '../core/errors.ts';
import type { ClientInfo, Publication, StreamPosition } from '../core/publication.ts';

/** How a channel keeps history; absent on a publish to a channel that keeps none. */
export interface HistoryPolicy {
  /** Maximum number of publications kept. */
  readonly size: number;
  /** History expires this long after the channel's last publication (ms). */
  readonly ttlMs: number;
}

/** One publication: what may differ between the publications of a batch. */
export interface PublishItem {
  /**
   * JSON text of the data, without raw line feeds (JSON.stringify never writes one; in other JSON text
   * a raw line feed can only be insignificant whitespace, and the Redis engine turns it into a space).
   */
  readonly data: string;
  readonly info?: ClientInfo;
  /** A publish repeating a key already used on this channel within `idempotencyTtlMs` is not stored or sent again. */
  readonly idempotencyKey?: string;
}

/** How the channel keeps what is published to it: the same for every publication of a batch. */
export interface ChannelPolicy {
  /** Absent where the channel keeps no history. */
  readonly history?: HistoryPolicy;
  /** How long an idempotency key is remembered (ms). Default 5 minutes. */
  readonly idempotencyTtlMs?: number;
}

export interface PublishOptions extends PublishItem, ChannelPolicy {}

export interface PublishResult {
  /** Position of the publication; absent where the channel keeps no history. */
  readonly position?: StreamPosition;
  /** True when an earlier publish with the same idempotency key is answered instead. */
  readonly duplicate: boolean;
}

export interface HistoryQuery {
  /** Only publications with an offset greater than this. */
  readonly sinceOffset?: number;
  /** At most this many publications; 0 returns only the position. */
  readonly limit: number;
  /** Newest first. */
  readonly reverse: boolean;
  /** The channel's policy, so that a read also keeps the epoch alive. */
  readonly history: HistoryPolicy;
}

export interface HistoryResult {
  readonly publications: Publication[];
  /** The channel's current position: the newest offset and the epoch. */
  readonly position: StreamPosition;
}

export interface BrokerEventHandler {
  /** A publication for a channel this node subscribed to, in offset order per channel. */
  onPublication(publication: Publication): void;
  /** A control message from a node of the deployment (this one included), as it was sent. */
  onControl(message: string): void;
  /** A join or leave event for a channel this node subscribed to. */
  onPresenceEvent?(channel: string, event: PresenceEvent): void;
  /**
   * Delivery may have been interrupted: a connection that carries publications came back, or a
   * Cluster shard changed hands. Publications sent meanwhile may never arrive through the handler,
   * so the node compares its channels' positions with the engine's and repairs what is missing.
   */
  onDeliveryInterrupted(): void;
}

export interface Broker extends PresenceStore {
  /** "memory" or "redis", for info and logs. */
  readonly kind: string;
  /** Whether the engine can serve requests now (Redis reachable); readiness derives from it. */
  readonly ready: boolean;
  /** Connects, and starts receiving control messages for every node and for node `node` (this one). */
  start(handler: BrokerEventHandler, node: string): Promise<void>;
  /** Starts receiving the channel's publications through the handler. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Stores (where the channel keeps history) and sends a publication; resolves once both are done. */
  publish(channel: string, options: PublishOptions): Promise<PublishResult>;
  /**
   * Publishes several publications to one channel, in item order, as `publish` would one after the
   * other; resolves with one result per item, in item order. A key repeated within the batch answers
   * the first item's result. Items are published in atomic steps of up to an engine-defined size
   * (each step gets consecutive offsets, apart from duplicates); when a step after the first fails,
   * the call rejects with a {@link PartialBatchError} holding the results of the items published
   * before it, and the items after it are not attempted.
   */
  publishBatch(
    channel: string,
    items: readonly PublishItem[],
    policy: ChannelPolicy,
  ): Promise<PublishResult[]>;
  history(channel: string, query: HistoryQuery): Promise<HistoryResult>;
  removeHistory(channel: string): Promise<void>;
  /**
   * Ends the channel's history if its epoch is still `epoch`, so that the next publication starts a
   * new epoch. For a history that can no longer be trusted: after a Redis failover lost acknowledged
   * writes, offsets are handed out a second time, and a client recovering across them would skip
   * publications without knowing. A new epoch makes every such client learn `recovered: false`.
   */
  endEpoch(channel: string, epoch: string): Promise<void>;
  /**
   * Re-establishes the path publications come in by — a new subscriber connection to Redis, subscribed
   * to the same channels, after replacing the commands connection if it no longer answers — when the
   * node found it delivers nothing though it looks up. Reports the interruption
   * (`onDeliveryInterrupted`) once done, so the node reads back what it missed.
   */
  repairDelivery(): Promise<void>;
  /** Sends a control message to node `to`, or to every node of the deployment (this one included). */
  publishControl(message: string, to?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A batch publish that failed part way: the first `published.length` items were published (their
 * results are here), the others were not. Carries the failure's code, so it reads like the cause.
 */
export class PartialBatchError extends HeraldError {
  readonly published: readonly PublishResult[];

  constructor(cause: HeraldError, published: readonly PublishResult[]) {
    super(cause.code, cause.message, { cause });
    this.published = published;
  }
}
