/**
 * The Redis engine: history in a capped stream per channel, positions in a meta hash, publications
 * carried by pub/sub (sharded pub/sub on a Cluster). Publish and history reads are Lua scripts, so
 * each is one atomic round trip; every key of a channel shares its hash tag (see keys.ts).
 */
import { readFileSync } from 'node:fs';
import { HeraldError } from '../../core/errors.ts';
import type { Publication } from '../../core/publication.ts';
import {
  PartialBatchError,
  type Broker,
  type BrokerEventHandler,
  type ChannelPolicy,
  type HistoryQuery,
  type HistoryResult,
  type PublishItem,
  type PublishOptions,
  type PublishResult,
} from '../broker.ts';
import { newEpoch } from '../memory/memory-broker.ts';
import type {
  PresenceAdded,
  PresenceEntry,
  PresenceEvent,
  PresenceExpired,
  PresencePage,
  PresenceStats,
} from '../presence.ts';
import {
  createRedisConnection,
  redisScript,
  type RedisConnection,
  type RedisConnectionOptions,
} from './connection.ts';
import { RedisKeys } from './keys.ts';
import {
  decodeMessage,
  decodePayload,
  decodePresenceEvent,
  encodePresenceEvent,
  encodeTail,
} from './payload.ts';
import { RedisTimeoutError, toEngineError, withTimeout } from './errors.ts';

const script = (name: string) =>
  redisScript(readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8'));
const PUBLISH = script('publish.lua');
const PUBLISH_BATCH = script('publish-batch.lua');
const HISTORY = script('history.lua');
const REMOVE_HISTORY = script('remove-history.lua');
const END_EPOCH = script('end-epoch.lua');
const PRESENCE = script('presence.lua');

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

/**
 * Most publications one publish-batch.lua call takes; a channel's larger batch is published in
 * several calls, one after the other. A script blocks Redis while it runs: about 3 µs per
 * publication, so 200 hold it for some 0.6 ms.
 */
export const BATCH_CHUNK_ITEMS = 200;
/**
 * About the most characters of publication tails one publish-batch.lua call takes (always at least
 * one publication): its single pub/sub message must stay far below the output buffer limits Redis
 * sets for subscriber connections (8 MiB soft, 32 MiB hard by default).
 */
export const BATCH_CHUNK_BYTES = 1024 * 1024;

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

  /**
   * Replaces the commands connection if it no longer answers, then renews the subscriber connection.
   * In that order: the renewal makes the node read back what it missed, through the commands
   * connection, and a read that fails would leave the gap to the clients (they recover).
   */
  async repairDelivery(): Promise<void> {
    await this.#connection.checkCommands().catch(() => undefined);
    await this.#connection.renewSubscriber();
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

  async publishBatch(
    channel: string,
    items: readonly PublishItem[],
    policy: ChannelPolicy,
  ): Promise<PublishResult[]> {
    const time = Date.now();
    const tails = items.map((item) => encodeTail(time, item.info, item.data));
    const results: PublishResult[] = [];
    for (const [start, end] of chunks(tails)) {
      try {
        results.push(...(await this.#publishChunk(channel, items, tails, start, end, policy)));
      } catch (err) {
        if (results.length === 0 || !(err instanceof HeraldError)) throw err;
        throw new PartialBatchError(err, results);
      }
    }
    return results;
  }

  /** Items `start` to `end` (excluded) in one call of publish-batch.lua. */
  async #publishChunk(
    channel: string,
    items: readonly PublishItem[],
    tails: readonly string[],
    start: number,
    end: number,
    policy: ChannelPolicy,
  ): Promise<PublishResult[]> {
    const keys = this.#keys;
    const scriptKeys = [keys.stream(channel), keys.meta(channel)];
    let flags = '';
    for (let i = start; i < end; i++) {
      const key = items[i]?.idempotencyKey;
      flags += key === undefined ? '0' : '1';
      if (key !== undefined) scriptKeys.push(keys.idempotency(channel, key));
    }
    const history = policy.history;
    const args = [
      keys.pubsub(channel),
      String(history?.size ?? 0),
      String(history?.ttlMs ?? 0),
      String(Math.max(this.#metaTtlMs, history?.ttlMs ?? 0)),
      newEpoch(),
      String(policy.idempotencyTtlMs ?? 300_000),
      this.#connection.sharded ? '1' : '0',
      flags,
      ...tails.slice(start, end),
    ];
    const reply = (await this.#call(() => this.#connection.run(PUBLISH_BATCH, scriptKeys, args))) as [
      string,
      ...(number | string)[],
    ];
    const [epoch, ...answers] = reply;
    return answers.map((answer) => batchResult(answer, epoch));
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

  /** A channel's pub/sub message: one publication, or a batch step's several, passed on in order. */
  readonly #onMessage = (message: string, pubsubChannel: string): void => {
    const channel = this.#keys.channelOfPubsub(pubsubChannel);
    if (channel === undefined) return;
    const event = decodePresenceEvent(message);
    if (event !== undefined) {
      this.#handler?.onPresenceEvent?.(channel, event);
      return;
    }
    for (const publication of decodeMessage(channel, message)) this.#handler?.onPublication(publication);
  };

  async presenceAdd(
    channel: string,
    entries: readonly PresenceEntry[],
    ttlMs: number,
  ): Promise<PresenceAdded> {
    const args = ['add', String(ttlMs)];
    for (const { client, user, info } of entries) {
      args.push(client, user, JSON.stringify(info === undefined ? { client, user } : { client, user, info }));
    }
    const [expired, back] = (await this.#call(() =>
      this.#connection.run(PRESENCE, this.#keys.presence(channel), args),
    )) as [string[], string[]];
    return { expired: parseEntries(expired), back };
  }

  async presenceRemove(channel: string, entries: readonly PresenceEntry[]): Promise<string[]> {
    const args = ['remove', ...entries.map((entry) => entry.client)];
    return (await this.#call(() =>
      this.#connection.run(PRESENCE, this.#keys.presence(channel), args),
    )) as string[];
  }

  async presence(
    channel: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<PresencePage & PresenceExpired> {
    const args = ['page', cursor ?? '0', String(limit)];
    const [next, fields, expired] = (await this.#call(() =>
      this.#connection.run(PRESENCE, this.#keys.presence(channel), args),
    )) as [string, string[], string[]];
    const clients: PresenceEntry[] = [];
    for (let i = 1; i < fields.length; i += 2) {
      const value = fields[i] ?? '';
      clients.push(JSON.parse(value.slice(value.lastIndexOf('\t') + 1)) as PresenceEntry);
    }
    return { clients, cursor: next === '0' ? undefined : next, expired: parseEntries(expired) };
  }

  async publishPresenceEvent(channel: string, event: PresenceEvent): Promise<void> {
    const message = encodePresenceEvent(event);
    await this.#call(() => this.#connection.publish(this.#keys.pubsub(channel), message));
  }

  async presenceStats(channel: string): Promise<PresenceStats & PresenceExpired> {
    const [clients, users, expired] = (await this.#call(() =>
      this.#connection.run(PRESENCE, this.#keys.presence(channel), ['stats']),
    )) as [number, number, string[]];
    return { clients, users, expired: parseEntries(expired) };
  }

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
      // Unanswered: the connection may be dead without a word. Checked (and replaced) meanwhile.
      if (err instanceof RedisTimeoutError) void this.#connection.checkCommands().catch(() => undefined);
      throw toEngineError(err);
    }
  }
}

/** Splits tails into runs of at most BATCH_CHUNK_ITEMS items and about BATCH_CHUNK_BYTES (at least one item). */
function* chunks(tails: readonly string[]): Generator<[start: number, end: number]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < tails.length; i++) {
    const length = tails[i]?.length ?? 0;
    if (i > start && (i - start === BATCH_CHUNK_ITEMS || bytes + length > BATCH_CHUNK_BYTES)) {
      yield [start, i];
      start = i;
      bytes = 0;
    }
    bytes += length;
  }
  if (start < tails.length) yield [start, tails.length];
}

/** One item's answer from publish-batch.lua: its offset in `epoch`, or an earlier "<offset>:<epoch>". */
function batchResult(answer: number | string, epoch: string): PublishResult {
  if (typeof answer === 'number') {
    return answer > 0 ? { position: { offset: answer, epoch }, duplicate: false } : { duplicate: false };
  }
  const sep = answer.indexOf(':');
  const offset = Number(answer.slice(0, sep));
  return offset > 0
    ? { position: { offset, epoch: answer.slice(sep + 1) }, duplicate: true }
    : { duplicate: true };
}

/** Presence entries as the presence script stores them (JSON). */
function parseEntries(entries: readonly string[]): PresenceEntry[] {
  return entries.map((entry) => JSON.parse(entry) as PresenceEntry);
}
