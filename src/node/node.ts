/**
 * The node: composition root of one Herald process's messaging. Transports and the server API call
 * into it; it calls the engine. It keeps the engine subscribed to exactly the channels that have local
 * subscribers, fans each publication out (encoded once) to them, and joins history to the live stream
 * when a client subscribes or recovers.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DisconnectCode, type HistoryRequest } from '@herald/protocol';
import { checkPublish, checkSubscribe, type Identity } from '../auth/permissions.ts';
import type { TokenClaims, TokenVerifier } from '../auth/tokens.ts';
import { assertChannel } from '../core/channel.ts';
import { HeraldError } from '../core/errors.ts';
import type { NamespaceOptions, NamespaceRules } from '../core/namespace.ts';
import { compilePattern } from '../core/pattern.ts';
import {
  encodePublicationPush,
  type ClientInfo,
  type Publication,
  type StreamPosition,
} from '../core/publication.ts';
import type { Broker, HistoryPolicy } from '../engine/broker.ts';
import type { HeraldConfig } from '../config/config.ts';
import packageJson from '../../package.json' with { type: 'json' };
import type { ClientSession } from './client-session.ts';
import type { HistoryOutcome, SubscribeOutcome } from './encode-results.ts';
import { FlushScheduler } from './flush-scheduler.ts';
import { Heartbeat } from './heartbeat.ts';
import { Hub } from './hub.ts';

export interface NodeOptions {
  readonly broker: Broker;
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly rules: NamespaceRules;
  readonly tokens: TokenVerifier;
}

export interface PublishOutcome {
  readonly offset?: number;
  readonly epoch?: string;
}

export interface HistoryOptions {
  /** Publications after this offset; with `epoch`, the epoch must still be current. */
  readonly since?: { readonly offset: number; readonly epoch?: string };
  readonly limit?: number;
  readonly reverse?: boolean;
}

export interface NodeInfo {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly engine: string;
  /** Seconds since the node started. */
  readonly uptime: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
}

export interface ChannelSummary {
  readonly channel: string;
  /** Subscribers on this node. */
  readonly subscribers: number;
}

export type DisconnectTarget = { readonly user: string } | { readonly client: string };

export class HeraldNode {
  readonly id = randomUUID();
  readonly version: string = packageJson.version;
  readonly startedAt = Date.now();
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly hub = new Hub<ClientSession>();
  readonly flusher = new FlushScheduler();
  readonly #heartbeat: Heartbeat;
  readonly #broker: Broker;
  readonly #rules: NamespaceRules;
  readonly #tokens: TokenVerifier;
  /** Channels the engine delivers to this node. */
  readonly #engineChannels = new Set<string>();
  /** Per channel, the tail of its chain of engine subscribe/unsubscribe calls. */
  readonly #engineSync = new Map<string, Promise<void>>();
  /** Every open session, connected or not yet: shutdown must close them all. */
  readonly #sessions = new Set<ClientSession>();
  #slowConsumers = 0;
  #closing = false;

  constructor(options: NodeOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.#broker = options.broker;
    this.#rules = options.rules;
    this.#tokens = options.tokens;
    const { pingIntervalMs, pongTimeoutMs, connectTimeoutMs } = options.config;
    const tick = Math.min(1000, Math.max(20, Math.min(pingIntervalMs, pongTimeoutMs, connectTimeoutMs) / 4));
    this.#heartbeat = new Heartbeat(tick);
  }

  get name(): string {
    return this.config.nodeName;
  }
  get engine(): string {
    return this.#broker.kind;
  }
  /** Whether the node accepts work: not shutting down, and the engine reachable. */
  get ready(): boolean {
    return !this.#closing && this.#broker.ready;
  }
  get slowConsumers(): number {
    return this.#slowConsumers;
  }

  async start(): Promise<void> {
    await this.#broker.start({ onPublication: (publication) => this.#fanOut(publication) });
  }

  /** Disconnects every client (telling them to reconnect elsewhere) and closes the engine. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const session of [...this.#sessions]) session.disconnect(DisconnectCode.SHUTDOWN, 'shutdown');
    this.#heartbeat.stop();
    await Promise.allSettled(this.#engineSync.values());
    await this.#broker.close();
  }

  // ---- Sessions ----

  /** A new connection: it must send `connect` before the connect timeout. */
  acceptSession(session: ClientSession): void {
    if (this.#closing) {
      session.disconnect(DisconnectCode.SHUTDOWN, 'shutdown');
      return;
    }
    this.#sessions.add(session);
    this.#heartbeat.add(session);
  }

  /** Verifies a connect token; no token means anonymous, allowed only where some namespace permits it. */
  async authenticate(token: string | undefined): Promise<TokenClaims | undefined> {
    if (token !== undefined && token !== '') return this.#tokens.verify(token);
    if (!this.#rules.anyAnonymous) {
      throw new HeraldError(
        'HERALD_ERR_UNAUTHORIZED',
        'a token is required: no namespace allows anonymous clients',
      );
    }
    return undefined;
  }

  /** A session's `connect` succeeded; refused while the node shuts down. */
  registerSession(session: ClientSession): void {
    this.#assertOpen();
    this.hub.addClient(session);
  }

  /** The session closed: drop it and its subscriptions. */
  releaseSession(session: ClientSession, channels: readonly string[]): void {
    this.#sessions.delete(session);
    this.#heartbeat.delete(session);
    this.hub.removeClient(session);
    for (const channel of channels) this.unsubscribeClient(session, channel);
  }

  /**
   * Subscribes a session, joining history to the live stream: the engine subscription is in place
   * before the position (and, when recovering, the missed publications) is read, and the session
   * holds live publications back until its reply is queued, so nothing falls between the two.
   */
  async subscribeClient(
    session: ClientSession,
    channel: string,
    since: StreamPosition | undefined,
  ): Promise<SubscribeOutcome> {
    const options = this.#rules.forChannel(channel);
    checkSubscribe(session.identity, options, channel);
    this.hub.subscribe(channel, session);
    await this.#syncEngine(channel);
    const policy = historyPolicy(options);
    if (policy === undefined) {
      return since === undefined
        ? { recoverable: false }
        : { recoverable: false, recovered: false, publications: [] };
    }
    const limit = since === undefined ? 0 : policy.size;
    const query = { limit, reverse: false, history: policy };
    const { publications, position } = await this.#broker.history(
      channel,
      since === undefined ? query : { ...query, sinceOffset: since.offset },
    );
    if (since === undefined) return { recoverable: true, position };
    const recovered = coversGap(since, position, publications);
    return { recoverable: true, position, recovered, publications: recovered ? publications : [] };
  }

  unsubscribeClient(session: ClientSession, channel: string): void {
    if (this.hub.unsubscribe(channel, session)) {
      this.#syncEngine(channel).catch((err: unknown) => {
        this.logger.error({ err, channel }, 'engine unsubscribe failed');
      });
    }
  }

  async clientPublish(
    identity: Identity,
    channel: string,
    data: string,
    info: ClientInfo,
  ): Promise<PublishOutcome> {
    checkPublish(identity, this.#rules.forChannel(channel), channel);
    return this.publish(channel, data, { info });
  }

  async clientHistory(identity: Identity, request: HistoryRequest): Promise<HistoryOutcome> {
    checkSubscribe(identity, this.#rules.forChannel(request.channel), request.channel);
    const result = await this.history(request.channel, {
      ...(request.since === undefined ? {} : { since: request.since }),
      ...(request.limit === undefined ? {} : { limit: request.limit }),
      ...(request.reverse === undefined ? {} : { reverse: request.reverse }),
    });
    return { publications: result.publications, position: { offset: result.offset, epoch: result.epoch } };
  }

  // ---- Server API ----

  /** Publishes JSON text `data` to a channel; resolves once the engine stored and sent it. */
  async publish(
    channel: string,
    data: string,
    options: { readonly idempotencyKey?: string; readonly info?: ClientInfo } = {},
  ): Promise<PublishOutcome> {
    assertChannel(channel);
    this.#assertOpen();
    const policy = historyPolicy(this.#rules.forChannel(channel));
    const result = await this.#broker.publish(channel, {
      data,
      ...(options.info === undefined ? {} : { info: options.info }),
      ...(policy === undefined ? {} : { history: policy }),
      ...(options.idempotencyKey === undefined
        ? {}
        : { idempotencyKey: options.idempotencyKey, idempotencyTtlMs: this.config.idempotencyTtlMs }),
    });
    return result.position === undefined
      ? {}
      : { offset: result.position.offset, epoch: result.position.epoch };
  }

  async history(
    channel: string,
    options: HistoryOptions = {},
  ): Promise<{ publications: Publication[]; offset: number; epoch: string }> {
    assertChannel(channel);
    const policy = historyPolicy(this.#rules.forChannel(channel));
    if (policy === undefined)
      throw new HeraldError('HERALD_ERR_HISTORY_DISABLED', `${channel} keeps no history`);
    const limit = Math.min(options.limit ?? this.config.historyMaxLimit, this.config.historyMaxLimit);
    const since = options.since;
    const { publications, position } = await this.#broker.history(channel, {
      limit,
      reverse: options.reverse ?? false,
      history: policy,
      ...(since === undefined ? {} : { sinceOffset: since.offset }),
    });
    if (since?.epoch !== undefined && since.epoch !== position.epoch) {
      throw new HeraldError(
        'HERALD_ERR_UNRECOVERABLE_POSITION',
        `epoch ${JSON.stringify(since.epoch)} is not the channel's current epoch ${JSON.stringify(position.epoch)}`,
      );
    }
    return { publications, offset: position.offset, epoch: position.epoch };
  }

  /** Channels with subscribers on this node, optionally filtered by a pattern (`chat:*`). */
  channels(pattern?: string): ChannelSummary[] {
    const matches = pattern === undefined ? () => true : compilePattern(pattern);
    const out: ChannelSummary[] = [];
    for (const [channel, subscribers] of this.hub.channels()) {
      if (matches(channel)) out.push({ channel, subscribers: subscribers.size });
    }
    return out.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  }

  info(): NodeInfo {
    return {
      id: this.id,
      name: this.name,
      version: this.version,
      engine: this.engine,
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
      connections: this.hub.clientCount,
      subscriptions: this.hub.subscriptionCount,
      channels: this.hub.channelCount,
    };
  }

  /** Closes a user's or a client's connections; `reconnect` tells them they may come back. Returns how many. */
  disconnect(target: DisconnectTarget, options: { readonly reconnect?: boolean } = {}): number {
    const sessions =
      'user' in target
        ? this.hub.userClients(target.user)
        : [this.hub.client(target.client)].filter(isDefined);
    const code = options.reconnect === true ? DisconnectCode.RECONNECT : DisconnectCode.FORCED;
    for (const session of sessions) session.disconnect(code, 'disconnected by server');
    return sessions.length;
  }

  // ---- Internals ----

  countSlowConsumer(): void {
    this.#slowConsumers += 1;
  }

  encodePush(publication: Publication): Buffer {
    return Buffer.from(encodePublicationPush(publication));
  }

  #fanOut(publication: Publication): void {
    const subscribers = this.hub.subscribers(publication.channel);
    if (subscribers === undefined) return;
    const frame = this.encodePush(publication);
    for (const session of subscribers) session.deliver(publication, frame);
  }

  #assertOpen(): void {
    if (this.#closing) throw new HeraldError('HERALD_ERR_SHUTTING_DOWN', 'the node is shutting down');
  }

  /**
   * Brings the engine subscription of `channel` in line with the hub. Calls per channel run one after
   * another and decide from the hub's state when they run, so fast subscribe/unsubscribe churn ends
   * with the engine subscribed exactly when there are local subscribers.
   */
  #syncEngine(channel: string): Promise<void> {
    const previous = this.#engineSync.get(channel) ?? Promise.resolve();
    const next = previous.then(() => this.#reconcile(channel));
    const tail = next.catch(() => undefined);
    this.#engineSync.set(channel, tail);
    void tail.then(() => {
      if (this.#engineSync.get(channel) === tail) this.#engineSync.delete(channel);
    });
    return next;
  }

  async #reconcile(channel: string): Promise<void> {
    const wanted = this.hub.hasSubscribers(channel) && !this.#closing;
    const subscribed = this.#engineChannels.has(channel);
    if (wanted && !subscribed) {
      await this.#broker.subscribe(channel);
      this.#engineChannels.add(channel);
    } else if (!wanted && subscribed) {
      this.#engineChannels.delete(channel);
      await this.#broker.unsubscribe(channel);
    }
  }
}

function historyPolicy(options: NamespaceOptions): HistoryPolicy | undefined {
  return options.historySize > 0 ? { size: options.historySize, ttlMs: options.historyTtlMs } : undefined;
}

/** Whether `publications` are exactly every publication after `since` up to `position`. */
function coversGap(
  since: StreamPosition,
  position: StreamPosition,
  publications: readonly Publication[],
): boolean {
  if (since.epoch !== position.epoch || since.offset > position.offset) return false;
  const missed = position.offset - since.offset;
  return publications.length === missed && (missed === 0 || publications[0]?.offset === since.offset + 1);
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
