/**
 * The Redis engine: history in a capped stream per channel, positions in a meta hash, publications
 * carried by pub/sub (sharded pub/sub on a Cluster). Publish and history reads are Lua scripts, so
 * each is one atomic round trip; every key of a channel shares its hash tag (see keys.ts).
 */
import { readFileSync } from 'node:fs';
import { HeraldError } from '../../core/errors.ts';
import type { Publication } from '../../core/publication.ts';
import type {
  Broker,
  BrokerEventHandler,
  HistoryQuery,
  HistoryResult,
  PublishOptions,
  PublishResult,
} from '../broker.ts';
import { newEpoch } from '../memory/memory-broker.ts';
import {
  createRedisConnection,
  redisScript,
  type RedisConnection,
  type RedisConnectionOptions,
} from './connection.ts';
import { RedisKeys } from './keys.ts';
import { decodePayload, encodeTail } from './payload.ts';
import { toEngineError, withTimeout } from './errors.ts';

const script = (name: string) =>
  redisScript(readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8'));
const PUBLISH = script('publish.lua');
const HISTORY = script('history.lua');
const REMOVE_HISTORY = script('remove-history.lua');
const END_EPOCH = script('end-epoch.lua');

export interface RedisBrokerOptions extends RedisConnectionOptions {
  /** Prefix of every key and pub/sub channel (HERALD_REDIS_PREFIX). Default "herald:". */
  readonly prefix?: string;
  /** How long a channel's epoch and offset outlive its last publication (ms). Default 24 hours. */
  readonly metaTtlMs?: number;
  /** Connection errors, for logging. */
  readonly onError?: (err: Error) => void;
  /** How long a call waits for Redis's answer before it fails (ms). Default 5 seconds. */
  readonly commandTimeoutMs?: number;
}

type StreamEntry = [id: string, fields: string[]];

export class RedisBroker implements Broker {
  readonly kind = 'redis';
  readonly #connection: RedisConnection;
  readonly #keys: RedisKeys;
  readonly #metaTtlMs: number;
  readonly #commandTimeoutMs: number;
  #handler: BrokerEventHandler | undefined;

  constructor(options: RedisBrokerOptions) {
    this.#connection = createRedisConnection(options);
    this.#keys = new RedisKeys(options.prefix ?? 'herald:');
    this.#metaTtlMs = options.metaTtlMs ?? 24 * 3600_000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    if (options.onError !== undefined) this.#connection.onError(options.onError);
    this.#connection.onReconnected(() => this.#handler?.onDeliveryInterrupted());
  }

  get ready(): boolean {
    return this.#connection.ready;
  }

  async start(handler: BrokerEventHandler, node: string): Promise<void> {
    this.#handler = handler;
    await this.#connection.connect();
    const onControl = (message: string) => this.#handler?.onControl(message);
    await this.#connection.subscribe(this.#keys.control(), onControl);
    await this.#connection.subscribe(this.#keys.control(node), onControl);
  }

  async subscribe(channel: string): Promise<void> {
    await this.#call(() => this.#connection.subscribe(this.#keys.pubsub(channel), this.#onMessage));
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.#call(() => this.#connection.unsubscribe(this.#keys.pubsub(channel)));
  }

  async publish(channel: string, options: PublishOptions): Promise<PublishResult> {
    const keys = this.#keys;
    const key = options.idempotencyKey;
    const history = options.history;
    const reply = (await this.#call(() =>
      this.#connection.run(
        PUBLISH,
        [keys.stream(channel), keys.meta(channel), keys.idempotency(channel, key ?? '')],
        [
          keys.pubsub(channel),
          encodeTail(Date.now(), options.info, options.data),
          String(history?.size ?? 0),
          String(history?.ttlMs ?? 0),
          String(Math.max(this.#metaTtlMs, history?.ttlMs ?? 0)),
          newEpoch(),
          String(options.idempotencyTtlMs ?? 300_000),
          this.#connection.sharded ? '1' : '0',
          key === undefined ? '0' : '1',
        ],
      ),
    )) as [number, string, number];
    const [offset, epoch, duplicate] = reply;
    const result = { duplicate: duplicate === 1 };
    return offset > 0 ? { ...result, position: { offset, epoch } } : result;
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    const keys = this.#keys;
    const reply = (await this.#call(() =>
      this.#connection.run(
        HISTORY,
        [keys.stream(channel), keys.meta(channel)],
        [
          newEpoch(),
          String(Math.max(this.#metaTtlMs, query.history.ttlMs)),
          query.sinceOffset === undefined ? '' : String(query.sinceOffset),
          String(query.limit),
          query.reverse ? '1' : '0',
        ],
      ),
    )) as [number, string, StreamEntry[]];
    const [offset, epoch, entries] = reply;
    const publications: Publication[] = [];
    for (const [, fields] of entries) {
      const publication = decodePayload(channel, fields[1] ?? '');
      if (publication !== undefined) publications.push(publication);
    }
    return { publications, position: { offset, epoch } };
  }

  async removeHistory(channel: string): Promise<void> {
    await this.#call(() => this.#connection.run(REMOVE_HISTORY, [this.#keys.stream(channel)], []));
  }

  async endEpoch(channel: string, epoch: string): Promise<void> {
    const keys = [this.#keys.stream(channel), this.#keys.meta(channel)];
    await this.#call(() => this.#connection.run(END_EPOCH, keys, [epoch]));
  }

  async publishControl(message: string, to?: string): Promise<void> {
    await this.#call(() => this.#connection.publish(this.#keys.control(to), message));
  }

  async close(): Promise<void> {
    this.#handler = undefined;
    await this.#connection.close();
  }

  readonly #onMessage = (message: string, pubsubChannel: string): void => {
    const channel = this.#keys.channelOfPubsub(pubsubChannel);
    const publication = channel === undefined ? undefined : decodePayload(channel, message);
    if (publication !== undefined) this.#handler?.onPublication(publication);
  };

  /**
   * Runs a Redis call, failing fast with HERALD_ERR_ENGINE_UNAVAILABLE when Redis cannot be reached
   * and giving up on an answer after the command timeout.
   */
  async #call<T>(operation: () => Promise<T>): Promise<T> {
    if (!this.#connection.ready) {
      throw new HeraldError('HERALD_ERR_ENGINE_UNAVAILABLE', 'Redis is not reachable');
    }
    try {
      return await withTimeout(operation(), this.#commandTimeoutMs);
    } catch (err) {
      throw toEngineError(err);
    }
  }
}
