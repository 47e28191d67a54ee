/**
 * The node: composition root of one Herald process's messaging. Transports and the server API call
 * into it; it calls the engine. It keeps the engine subscribed to exactly the channels that have local
 * subscribers, fans each publication out (encoded once) to them, and joins history to the live stream
 * when a client subscribes or recovers.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DisconnectCode, type HistoryRequest } from '@herald/protocol';
import { checkPublish, checkRead, checkSubscribe, type Identity } from '../auth/permissions.ts';
import type { TokenClaims, TokenVerifier } from '../auth/tokens.ts';
import { assertChannel, channelNameProblem, isReservedChannel } from '../core/channel.ts';
import { HeraldError } from '../core/errors.ts';
import { NO_METRICS, type EngineOperation, type NodeMetrics } from './node-metrics.ts';
import { RateLimitedLog } from '../core/rate-limited-log.ts';
import { DeliveryCanary } from './delivery-canary.ts';
import {
  STATS_CHANNEL,
  SYSTEM_NAMESPACE,
  type NamespaceOptions,
  type NamespaceRules,
} from '../core/namespace.ts';
import { compilePattern } from '../core/pattern.ts';
import {
  encodePublicationPush,
  type ClientInfo,
  type Publication,
  type StreamPosition,
} from '../core/publication.ts';
import {
  PartialBatchError,
  type Broker,
  type ChannelPolicy,
  type HistoryPolicy,
  type PublishItem,
  type PublishResult,
} from '../engine/broker.ts';
import type { HeraldConfig } from '../config/config.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { ChannelStreams } from './channel-streams.ts';
import type { ClientSession } from './client-session.ts';
import type { NodeInfo, SurveyRequest } from './control-messages.ts';
import { ControlPlane } from './control-plane.ts';
import type { HistoryOutcome, SubscribeOutcome } from './encode-results.ts';
import { EngineSubscriptions } from './engine-subscriptions.ts';
import { ChannelFanOut } from './channel-fanout.ts';
import { SessionDrain } from './drain.ts';
import { FlushScheduler } from './flush-scheduler.ts';
import { Heartbeat } from './heartbeat.ts';
import { Hub } from './hub.ts';
import { PresenceTracker } from './presence-tracker.ts';
import type { PresenceEvent, PresencePage, PresenceStats } from '../engine/presence.ts';

export type { NodeInfo };

/** After the engine reports an interruption, channels are checked at once and again this much later. */
const RECHECK_AFTER_INTERRUPTION_MS = 1000;
/**
 * The most channels one node reports to a channels survey: the answers travel as pub/sub messages, and
 * Redis drops subscriber connections whose output buffer grows past its limits (8 MiB by default).
 */
const SURVEY_CHANNELS_LIMIT = 10_000;
/** How long shutdown waits for engine subscription calls in flight. */
const SHUTDOWN_SETTLE_MS = 1000;
/** How soon a check round that could not reach the engine is tried again. */
const CHECK_RETRY_MS = 1000;
/** Position checks in flight at once, so a node with many channels does not flood Redis. */
const CHECK_CONCURRENCY = 32;

/** A node's counters at one moment (`$herald:stats`); `published` and `delivered` count from its start. */
export interface NodeStats {
  readonly node: string;
  readonly name: string;
  /** When the sample was taken, ms since the epoch. */
  readonly at: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
  readonly published: number;
  readonly delivered: number;
  /** Open connections by transport. */
  readonly transports: Readonly<Record<string, number>>;
}

/** How often the engine's reachability is looked at, for the logs. */
const ENGINE_WATCH_MS = 500;

/** How often each node publishes its counters for the dashboard. */
const STATS_INTERVAL_MS = 1000;
/** The largest presence cursor: Redis's cursors are unsigned 64-bit numbers. */
const MAX_CURSOR = 2n ** 64n - 1n;

export interface NodeOptions {
  readonly broker: Broker;
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly rules: NamespaceRules;
  readonly tokens: TokenVerifier;
  /** Where publishes, errors and disconnects are counted; none by default. */
  readonly metrics?: NodeMetrics;
}

export interface PublishOutcome {
  readonly offset?: number;
  readonly epoch?: string;
}

/** One publication of a batch (`HeraldNode.publishBatch`). */
export interface BatchPublication {
  readonly channel: string;
  /** JSON text of the data. */
  readonly data: string;
  readonly idempotencyKey?: string;
}

/** A batch publication's outcome: where it landed, or why it was not published. */
export type BatchOutcome = PromiseSettledResult<PublishOutcome>;

export interface HistoryOptions {
  /** Publications after this offset; with `epoch`, the epoch must still be current. */
  readonly since?: { readonly offset: number; readonly epoch?: string };
  readonly limit?: number;
  readonly reverse?: boolean;
}

export interface ChannelSummary {
  readonly channel: string;
  /** Connections subscribed to the channel. */
  readonly subscribers: number;
}

/** One node's channels with subscribers. */
export interface LocalListing {
  readonly channels: ChannelSummary[];
  /** Whether there were more than the limit asked for. */
  readonly truncated: boolean;
}

/** The deployment's channels with subscribers. */
export interface ChannelListing extends LocalListing {
  /** Live nodes that did not answer in time: their subscribers are missing from the counts. */
  readonly missingNodes: string[];
}

export type DisconnectTarget = { readonly user: string } | { readonly client: string };

export class HeraldNode {
  readonly id = randomUUID();
  readonly version: string = packageJson.version;
  readonly startedAt = Date.now();
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly hub = new Hub<ClientSession>();
  readonly metrics: NodeMetrics;
  /** Refused connects: worth knowing, but a misconfigured fleet must not flood the logs. */
  readonly authFailures: RateLimitedLog;
  readonly flusher = new FlushScheduler();
  readonly #fanOut = new ChannelFanOut<ClientSession>({
    scheduler: this.flusher,
    subscribers: (channel) => this.hub.subscribers(channel),
    encode: (publication) => Buffer.from(encodePublicationPush(publication)),
    onDelivering: (publications) => {
      const now = Date.now();
      for (const publication of publications)
        this.metrics.observeDeliveryLag((now - publication.time) / 1000);
    },
  });
  readonly #heartbeat: Heartbeat;
  readonly #broker: Broker;
  readonly #rules: NamespaceRules;
  readonly #tokens: TokenVerifier;
  readonly #engineSubscriptions: EngineSubscriptions;
  readonly #streams: ChannelStreams;
  readonly #control: ControlPlane;
  readonly #presence: PresenceTracker<ClientSession>;
  /** Every open session, connected or not yet: shutdown must close them all. */
  readonly #sessions = new Set<ClientSession>();
  #maintenanceTimer: NodeJS.Timeout | undefined;
  /** A round of position checks is running, and whether another was asked for meanwhile. */
  #checking: Promise<void> | undefined;
  #checkAgain = false;
  #slowConsumers = 0;
  /** Publications this node published (server API and clients), since it started. */
  #published = 0;
  /** Open sessions (connected or still connecting) by transport, kept as they come and go. */
  readonly #transports = new Map<string, number>();
  #statsTimer: NodeJS.Timeout | undefined;
  #engineWatch: NodeJS.Timeout | undefined;
  #engineWasReady = true;
  /** Where this node sends itself delivery probes through the engine. */
  readonly #canaryChannel = `${SYSTEM_NAMESPACE}:canary:${this.id}`;
  readonly #canary: DeliveryCanary;
  #insufficientState = 0;
  /** Set when shutdown begins (drain or close): no new clients, and not ready. */
  #draining = false;
  #drain: { readonly sessions: SessionDrain; readonly done: Promise<void> } | undefined;
  #closing = false;

  constructor(options: NodeOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.#broker = options.broker;
    this.#rules = options.rules;
    this.#tokens = options.tokens;
    this.metrics = options.metrics ?? NO_METRICS;
    this.authFailures = new RateLimitedLog(options.logger, 'warn');
    const checkMs = options.config.deliveryCheckIntervalMs;
    this.#canary = new DeliveryCanary({
      intervalMs: checkMs,
      timeoutMs: 3 * checkMs,
      publish: async (sequence) => {
        if (!this.#broker.ready) throw new Error('engine unreachable');
        await this.#broker.publish(this.#canaryChannel, { data: String(sequence) });
      },
      onBroken: (overdueMs) => {
        this.logger.warn(
          { overdueMs },
          'delivery path broken: publications no longer reach this node; repairing',
        );
        this.metrics.countDeliveryCheckFailure();
        this.#broker
          .repairDelivery()
          .catch((err: unknown) => this.logger.warn({ err }, 'could not repair the delivery path; retrying'));
      },
      onRepaired: () => this.logger.info('delivery path repaired'),
    });
    const { pingIntervalMs, pongTimeoutMs, connectTimeoutMs } = options.config;
    const tick = Math.min(1000, Math.max(20, Math.min(pingIntervalMs, pongTimeoutMs, connectTimeoutMs) / 4));
    this.#heartbeat = new Heartbeat(tick);
    this.#streams = new ChannelStreams({
      read: (channel, sinceOffset) => this.#readStream(channel, sinceOffset),
      deliver: (publication) => this.#fanOut.queue(publication),
      onRewound: (channel, position) => this.#onRewound(channel, position),
      onEpochLost: (channel, position) => {
        this.logger.warn({ channel, ...position }, 'channel history was lost: a new epoch began');
        this.#recoverBehind(channel, { epoch: position.epoch, offset: 0 });
      },
      onUnrepairable: (channel, position) => {
        this.logger.warn({ channel, ...position }, 'missed publications are no longer in the history');
        this.#recoverBehind(channel, position);
      },
      onDeaf: (channel) => {
        this.logger.warn({ channel }, 'publications reach the history but not this node: resubscribing');
        this.#engineSubscriptions
          .resubscribe(channel)
          .then(() => this.#streams.check(channel))
          .catch((err: unknown) => this.logger.warn({ err, channel }, 'could not resubscribe'));
      },
    });
    this.#engineSubscriptions = new EngineSubscriptions({
      broker: this.#broker,
      wanted: (channel) => this.hub.hasSubscribers(channel) && !this.#closing,
      onSubscribing: (channel) => {
        if (historyPolicy(this.#rules.forChannel(channel)) !== undefined) this.#streams.open(channel);
      },
      onUnsubscribed: (channel) => this.#streams.close(channel),
    });
    this.#presence = new PresenceTracker<ClientSession>({
      store: this.#broker,
      ttlMs: options.config.presenceTtlMs,
      logger: this.logger,
      policy: (channel) => this.#rules.forChannel(channel),
      channels: () => this.hub.channels(),
    });
    this.#control = new ControlPlane({
      broker: this.#broker,
      logger: this.logger,
      describe: () => this.info(),
      answer: (request) => this.#answerSurvey(request),
    });
  }

  get name(): string {
    return this.config.nodeName;
  }
  get engine(): string {
    return this.#broker.kind;
  }
  /** Whether the node accepts work: not shutting down (or draining), and the engine reachable. */
  get ready(): boolean {
    return !this.#draining && this.#broker.ready && this.#canary.healthy;
  }
  /** Whether shutdown has begun: the node takes no new clients, and load balancers should look elsewhere. */
  get draining(): boolean {
    return this.#draining;
  }
  get slowConsumers(): number {
    return this.#slowConsumers;
  }
  /** Clients closed with 3007 because their stream could not be continued without a gap. */
  get insufficientStateDisconnects(): number {
    return this.#insufficientState;
  }

  async start(): Promise<void> {
    await this.#broker.start(
      {
        onPublication: (publication) => {
          if (publication.channel === this.#canaryChannel) this.#canary.received(Number(publication.data));
          else this.#streams.receive(publication);
        },
        onControl: (message) => this.#control.receive(message),
        onPresenceEvent: (channel, event) => this.#onPresenceEvent(channel, event),
        onDeliveryInterrupted: () => {
          this.logger.info('engine delivery was interrupted: checking every channel');
          void this.checkStreams();
          // Resubscriptions may complete after the connection reports ready: look again shortly.
          setTimeout(() => void this.checkStreams(), RECHECK_AFTER_INTERRUPTION_MS).unref();
        },
      },
      this.id,
    );
    await this.#control.start();
    this.logger.info({ engine: this.engine }, 'engine connected');
    await this.#broker.subscribe(this.#canaryChannel);
    this.#canary.start();
    this.#maintenanceTimer = setInterval(() => this.#maintain(), this.config.positionCheckIntervalMs);
    this.#maintenanceTimer.unref();
    this.#engineWatch = setInterval(() => this.#watchEngine(), ENGINE_WATCH_MS);
    this.#engineWatch.unref();
    if (this.config.dashboard) {
      this.#statsTimer = setInterval(() => this.#publishStats(), STATS_INTERVAL_MS);
      this.#statsTimer.unref();
    }
  }

  /**
   * The first step of a graceful shutdown: the node reports not ready and refuses new clients, and
   * tells the clients it has to reconnect elsewhere (3001), a few at a time over `periodMs` (0: all at
   * once), each after its commands under way were answered. Resolves once they are all gone. The node
   * still publishes and serves the server API meanwhile; {@link close} ends the rest.
   */
  drain(periodMs: number): Promise<void> {
    if (this.#drain !== undefined) return this.#drain.done;
    this.#draining = true;
    const clients = this.#sessions.size;
    this.logger.info({ clients, drainPeriodMs: periodMs }, 'draining');
    const startedAt = Date.now();
    // SSE clients send their commands (pongs included) as separate requests, which a node that stopped
    // listening refuses: they move first, at once, rather than limp through the period.
    const sse = [...this.#sessions].filter((session) => session.transportName === 'sse');
    for (const session of sse) session.disconnectAfterCommands(DisconnectCode.SHUTDOWN, 'shutdown');
    const rest = [...this.#sessions].filter((session) => session.transportName !== 'sse');
    const sessions = new SessionDrain(rest, { periodMs, open: () => this.#sessions.size });
    const done = sessions.run().then(() => {
      if (!this.#closing) this.logger.info({ clients, ms: Date.now() - startedAt }, 'drained');
    });
    this.#drain = { sessions, done };
    return done;
  }

  /** Disconnects every client (telling them to reconnect elsewhere), leaves the deployment and closes the engine. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#draining = true;
    this.#drain?.sessions.stop();
    clearInterval(this.#maintenanceTimer);
    clearInterval(this.#statsTimer);
    clearInterval(this.#engineWatch);
    this.#canary.stop();
    for (const session of [...this.#sessions]) session.disconnect(DisconnectCode.SHUTDOWN, 'shutdown');
    this.#heartbeat.stop();
    // The clients just closed leave presence at once rather than when their entries expire.
    await this.#presence.close();
    await this.#control.stop();
    // Unsubscribes in flight are not worth waiting long for: closing the engine ends them all.
    await Promise.race([this.#engineSubscriptions.settle(), delay(SHUTDOWN_SETTLE_MS)]);
    await this.#broker.close();
  }

  // ---- Sessions ----

  /** A new connection: it must send `connect` before the connect timeout. */
  acceptSession(session: ClientSession): void {
    if (this.#draining) {
      session.disconnect(DisconnectCode.SHUTDOWN, 'shutdown');
      return;
    }
    this.#sessions.add(session);
    this.#heartbeat.add(session);
    const { transportName } = session;
    this.#transports.set(transportName, (this.#transports.get(transportName) ?? 0) + 1);
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

  /** A session's `connect` succeeded; refused once the node drains. */
  registerSession(session: ClientSession): void {
    if (this.#draining) {
      throw new HeraldError('HERALD_ERR_SHUTTING_DOWN', 'the node is shutting down: connect to another node');
    }
    const max = this.config.maxConnectionsPerUser;
    if (
      max > 0 &&
      session.user !== '' &&
      !session.invisible &&
      this.hub.userClientCount(session.user) >= max
    ) {
      throw new HeraldError(
        'HERALD_ERR_TOO_MANY_CONNECTIONS',
        `user ${session.user} already has ${max} connections on this node`,
      );
    }
    this.hub.addClient(session);
  }

  /** The session closed: drop it and its subscriptions. */
  releaseSession(session: ClientSession, channels: readonly string[]): void {
    if (this.#sessions.delete(session)) {
      const { transportName } = session;
      this.#transports.set(transportName, (this.#transports.get(transportName) ?? 1) - 1);
    }
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
    channelToken: string | undefined,
    current: () => boolean,
  ): Promise<SubscribeOutcome> {
    const options = this.#rules.forChannel(channel);
    // Only private namespaces look at a channel token; elsewhere one is ignored.
    const grant =
      options.subscribe === 'private' && channelToken !== undefined
        ? await this.#tokens.verifyChannel(channelToken)
        : undefined;
    checkSubscribe(session.identity, options, channel, grant);
    return this.subscribeServerSide(session, channel, since, current);
  }

  /**
   * Subscribes a session without a permission check: the server decided (a personal channel, or the
   * server API's subscribe). Otherwise as {@link subscribeClient}.
   */
  async subscribeServerSide(
    session: ClientSession,
    channel: string,
    since: StreamPosition | undefined,
    current: () => boolean,
  ): Promise<SubscribeOutcome> {
    const options = this.#rules.forChannel(channel);
    // The session may have closed, or dropped this subscription, while a channel token was checked:
    // joining the hub now would leave an entry nothing ever removes.
    if (!current())
      throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `no longer subscribing to ${channel}`);
    this.hub.subscribe(channel, session);
    this.#presence.join(channel, session);
    await this.#engineSubscriptions.sync(channel);
    const policy = historyPolicy(options);
    if (policy === undefined) {
      return since === undefined
        ? { recoverable: false }
        : { recoverable: false, recovered: false, publications: [] };
    }
    const limit = since === undefined ? 0 : policy.size;
    const query = { limit, reverse: false, history: policy };
    const { publications, position } = await this.#engine(
      'history',
      this.#broker.history(channel, since === undefined ? query : { ...query, sinceOffset: since.offset }),
    );
    this.#streams.seed(channel, position);
    if (since === undefined) return { recoverable: true, position };
    const recovered = coversGap(since, position, publications);
    return { recoverable: true, position, recovered, publications: recovered ? publications : [] };
  }

  unsubscribeClient(session: ClientSession, channel: string): void {
    if (this.hub.subscribers(channel)?.has(session) === true) this.#presence.leave(channel, session);
    // While shutting down, closing the engine drops every subscription at once.
    if (this.hub.unsubscribe(channel, session) && !this.#closing) {
      this.#engineSubscriptions.sync(channel).catch((err: unknown) => {
        // Retried by the next maintenance round.
        this.logger.warn({ err, channel }, 'engine unsubscribe failed');
      });
    }
  }

  async clientPublish(
    identity: Identity,
    channel: string,
    data: string,
    info: ClientInfo,
    subscribed: boolean,
  ): Promise<PublishOutcome> {
    checkPublish(identity, this.#rules.forChannel(channel), channel, subscribed);
    return this.publish(channel, data, { info });
  }

  async clientHistory(
    identity: Identity,
    request: HistoryRequest,
    subscribed: boolean,
  ): Promise<HistoryOutcome> {
    checkRead(identity, this.#rules.forChannel(request.channel), request.channel, subscribed);
    const result = await this.history(request.channel, {
      ...(request.since === undefined ? {} : { since: request.since }),
      ...(request.limit === undefined ? {} : { limit: request.limit }),
      ...(request.reverse === undefined ? {} : { reverse: request.reverse }),
    });
    return { publications: result.publications, position: { offset: result.offset, epoch: result.epoch } };
  }

  async clientPresence(
    identity: Identity,
    request: { channel: string; cursor?: string; limit: number },
    subscribed: boolean,
  ): Promise<PresencePage> {
    checkRead(identity, this.#rules.forChannel(request.channel), request.channel, subscribed, 'presence');
    return this.presence(request.channel, request.cursor, request.limit);
  }

  async clientPresenceStats(
    identity: Identity,
    channel: string,
    subscribed: boolean,
  ): Promise<PresenceStats> {
    checkRead(identity, this.#rules.forChannel(channel), channel, subscribed, 'presence');
    return this.presenceStats(channel);
  }

  // ---- Server API ----

  /** A page of the clients subscribed to `channel` on every node. */
  async presence(channel: string, cursor: string | undefined, limit: number): Promise<PresencePage> {
    this.#assertPresence(channel);
    // Redis's cursors are unsigned 64-bit numbers: a larger one is refused by Redis (found by the fuzzer).
    if (cursor !== undefined && !(/^\d{1,20}$/.test(cursor) && BigInt(cursor) <= MAX_CURSOR)) {
      throw new HeraldError('HERALD_ERR_BAD_REQUEST', '"cursor" must be the cursor of a previous page');
    }
    const { expired, ...page } = await this.#engine(
      'presence',
      this.#broker.presence(channel, cursor, limit),
    );
    this.#presence.announceExpired(channel, expired);
    return page;
  }

  /** How many clients (and distinct users) are subscribed to `channel` on every node. */
  async presenceStats(channel: string): Promise<PresenceStats> {
    this.#assertPresence(channel);
    const { expired, ...stats } = await this.#engine('presenceStats', this.#broker.presenceStats(channel));
    this.#presence.announceExpired(channel, expired);
    return stats;
  }

  #assertPresence(channel: string): void {
    assertChannel(channel);
    if (!this.#rules.forChannel(channel).presence) {
      throw new HeraldError('HERALD_ERR_PRESENCE_DISABLED', `${channel} keeps no presence`);
    }
  }

  /** Publishes JSON text `data` to a channel; resolves once the engine stored and sent it. */
  async publish(
    channel: string,
    data: string,
    options: { readonly idempotencyKey?: string; readonly info?: ClientInfo } = {},
  ): Promise<PublishOutcome> {
    assertPublishable(channel);
    this.#assertOpen();
    const started = performance.now();
    const policy = historyPolicy(this.#rules.forChannel(channel));
    const result = await this.#broker.publish(channel, {
      data,
      ...(options.info === undefined ? {} : { info: options.info }),
      ...(policy === undefined ? {} : { history: policy }),
      ...(options.idempotencyKey === undefined
        ? {}
        : { idempotencyKey: options.idempotencyKey, idempotencyTtlMs: this.config.idempotencyTtlMs }),
    });
    if (!result.duplicate) this.#published += 1;
    // The engine call is nearly all of a publish: one clock read serves both histograms.
    const seconds = (performance.now() - started) / 1000;
    this.metrics.observeEngine('publish', seconds);
    this.metrics.observePublish(seconds, options.info === undefined ? 'api' : 'client');
    return toOutcome(result);
  }

  /**
   * Publishes many publications, to one channel or several, with the same checks as `publish`; each
   * succeeds or fails on its own, and the outcomes come in the order of `publications`. The
   * publications of one channel keep their order (the engine takes them in one call, in atomic steps);
   * different channels are published concurrently.
   */
  async publishBatch(publications: readonly BatchPublication[]): Promise<BatchOutcome[]> {
    this.#assertOpen();
    const started = performance.now();
    // Every index is set: by the channel check below, or by its channel's group.
    const outcomes: BatchOutcome[] = [];
    const groups = new Map<string, number[]>();
    publications.forEach(({ channel }, index) => {
      const group = groups.get(channel);
      if (group !== undefined) {
        group.push(index);
        return;
      }
      try {
        assertPublishable(channel);
        groups.set(channel, [index]);
      } catch (err) {
        outcomes[index] = { status: 'rejected', reason: err };
      }
    });
    await Promise.all(
      [...groups].map(async ([channel, indices]) => {
        const results = await this.#publishGroup(channel, indices, publications);
        indices.forEach((index, i) => (outcomes[index] = results[i] as BatchOutcome));
      }),
    );
    this.metrics.observePublish((performance.now() - started) / 1000, 'batch');
    return outcomes;
  }

  /** The items of `publications` at `indices` (all to `channel`), in one engine call. */
  async #publishGroup(
    channel: string,
    indices: readonly number[],
    publications: readonly BatchPublication[],
  ): Promise<BatchOutcome[]> {
    const items = indices.map((index): PublishItem => {
      const { data, idempotencyKey } = publications[index] as BatchPublication;
      return idempotencyKey === undefined ? { data } : { data, idempotencyKey };
    });
    const policy = historyPolicy(this.#rules.forChannel(channel));
    const options: ChannelPolicy = {
      ...(policy === undefined ? {} : { history: policy }),
      idempotencyTtlMs: this.config.idempotencyTtlMs,
    };
    let published: readonly PublishResult[] = [];
    let failure: unknown;
    try {
      published = await this.#engine('publishBatch', this.#broker.publishBatch(channel, items, options));
    } catch (err) {
      // Published in steps: a step after the first failed, and the items before it stand.
      if (err instanceof PartialBatchError) published = err.published;
      failure = err;
    }
    this.#published += published.filter((result) => !result.duplicate).length;
    return items.map((_item, i): BatchOutcome => {
      const result = published[i];
      if (result === undefined) return { status: 'rejected', reason: failure };
      return { status: 'fulfilled', value: toOutcome(result) };
    });
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
    const { publications, position } = await this.#engine(
      'history',
      this.#broker.history(channel, {
        limit,
        reverse: options.reverse ?? false,
        history: policy,
        ...(since === undefined ? {} : { sinceOffset: since.offset }),
      }),
    );
    if (since?.epoch !== undefined && since.epoch !== position.epoch) {
      throw new HeraldError(
        'HERALD_ERR_UNRECOVERABLE_POSITION',
        `epoch ${JSON.stringify(since.epoch)} is not the channel's current epoch ${JSON.stringify(position.epoch)}`,
      );
    }
    return { publications, offset: position.offset, epoch: position.epoch };
  }

  /** Channels with subscribers on any node, optionally filtered by a pattern (`chat:*`), with their counts. */
  async channels(pattern?: string): Promise<ChannelListing> {
    if (pattern !== undefined) compilePattern(pattern);
    const request: SurveyRequest = pattern === undefined ? { op: 'channels' } : { op: 'channels', pattern };
    const { answers, missing } = await this.#control.survey(request);
    const counts = new Map<string, number>();
    let truncated = false;
    for (const answer of answers) {
      const listing = asLocalListing(answer);
      truncated ||= listing.truncated;
      for (const { channel, subscribers } of listing.channels) {
        counts.set(channel, (counts.get(channel) ?? 0) + subscribers);
      }
    }
    return { channels: sortedSummaries(counts), missingNodes: missing, truncated };
  }

  /** Channels with subscribers on this node only, at most `limit` of them. */
  localChannels(pattern?: string, limit = Number.POSITIVE_INFINITY): LocalListing {
    const matches = pattern === undefined ? () => true : compilePattern(pattern);
    const counts = new Map<string, number>();
    let truncated = false;
    for (const [channel, subscribers] of this.hub.channels()) {
      if (!matches(channel)) continue;
      if (counts.size >= limit) {
        truncated = true;
        break;
      }
      counts.set(channel, subscribers.size);
    }
    return { channels: sortedSummaries(counts), truncated };
  }

  /** The live nodes of the deployment (this one first). */
  nodes(): NodeInfo[] {
    return this.#control.nodes();
  }

  /** This node's counters, as published to the dashboard every second and read by /metrics. */
  stats(): NodeStats {
    const transports: Record<string, number> = { websocket: 0, sse: 0 };
    for (const [name, count] of this.#transports) transports[name] = count;
    return {
      node: this.id,
      name: this.name,
      at: Date.now(),
      connections: this.hub.clientCount,
      subscriptions: this.hub.subscriptionCount,
      channels: this.hub.channelCount,
      published: this.#published,
      delivered: this.#fanOut.delivered,
      transports,
    };
  }

  /** Logs the engine becoming unreachable and reachable again, once each way. */
  #watchEngine(): void {
    const ready = this.#broker.ready;
    if (ready === this.#engineWasReady) return;
    this.#engineWasReady = ready;
    if (ready) this.logger.info({ engine: this.engine }, 'engine reachable again');
    else
      this.logger.warn(
        { engine: this.engine },
        'engine unreachable: publishes and subscribes fail until it is back',
      );
  }

  #publishStats(): void {
    if (this.#closing || !this.#broker.ready) return;
    const policy = historyPolicy(this.#rules.forChannel(STATS_CHANNEL));
    this.#broker
      .publish(STATS_CHANNEL, {
        data: JSON.stringify(this.stats()),
        ...(policy === undefined ? {} : { history: policy }),
      })
      .catch((err: unknown) => this.logger.debug({ err }, 'could not publish the node stats'));
  }

  /** This node. */
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

  /**
   * Closes a user's or a client's connections on every node; `reconnect` tells them they may come
   * back. Resolves to how many were closed, and which nodes did not answer in time.
   */
  async disconnect(
    target: DisconnectTarget,
    options: { readonly reconnect?: boolean } = {},
  ): Promise<{ disconnected: number; missingNodes: string[] }> {
    const { answers, missing } = await this.#control.survey({
      op: 'disconnect',
      target,
      reconnect: options.reconnect === true,
    });
    return { disconnected: sumOf(answers), missingNodes: missing };
  }

  /**
   * Subscribes every connection of `user`, on every node, to `channel` (server-side: no permission
   * check; the clients learn it from a push). Resolves to how many connections were subscribed.
   */
  async subscribeUser(
    user: string,
    channel: string,
  ): Promise<{ subscribed: number; missingNodes: string[] }> {
    assertPublishable(channel);
    const { answers, missing } = await this.#control.survey({ op: 'subscribe', user, channel });
    return { subscribed: sumOf(answers), missingNodes: missing };
  }

  /** Unsubscribes every connection of `user`, on every node, from `channel`. */
  async unsubscribeUser(
    user: string,
    channel: string,
  ): Promise<{ unsubscribed: number; missingNodes: string[] }> {
    assertChannel(channel);
    const { answers, missing } = await this.#control.survey({ op: 'unsubscribe', user, channel });
    return { unsubscribed: sumOf(answers), missingNodes: missing };
  }

  /** The personal channels of `user` (`<namespace>:<user>` in each namespace with `personal`), valid names only. */
  personalChannels(user: string): string[] {
    if (user === '') return [];
    return this.#rules.personalNamespaces
      .map((namespace) => `${namespace}:${user}`)
      .filter((channel) => channelNameProblem(channel) === undefined);
  }

  /** Server-side subscribes this node's connections of `user` to `channel`; how many were not subscribed yet. */
  subscribeLocal(user: string, channel: string): number {
    let count = 0;
    for (const session of this.hub.userClients(user)) if (session.serverSubscribe(channel)) count += 1;
    return count;
  }

  /** Server-side unsubscribes this node's connections of `user` from `channel`; how many were subscribed. */
  unsubscribeLocal(user: string, channel: string): number {
    let count = 0;
    for (const session of this.hub.userClients(user)) if (session.serverUnsubscribe(channel)) count += 1;
    return count;
  }

  /** Closes a user's or a client's connections on this node. */
  disconnectLocal(target: DisconnectTarget, options: { readonly reconnect?: boolean } = {}): number {
    const sessions =
      'user' in target
        ? this.hub.userClients(target.user)
        : [this.hub.client(target.client)].filter(isDefined);
    const code = options.reconnect === true ? DisconnectCode.RECONNECT : DisconnectCode.FORCED;
    for (const session of sessions) session.disconnect(code, 'disconnected by server');
    return sessions.length;
  }

  /**
   * Compares every channel this node follows with the engine's position and repairs what it missed.
   * Runs after the engine reconnects and periodically; a request while a round runs starts another
   * when it ends, so no interruption goes unchecked.
   */
  checkStreams(): Promise<void> {
    if (this.#checking !== undefined) {
      this.#checkAgain = true;
      return this.#checking;
    }
    const round = async () => {
      let failed: number;
      do {
        this.#checkAgain = false;
        failed = 0;
        // While the engine is down there is nothing to read; its reconnection starts a round.
        if (!this.#broker.ready) return;
        const channels = [...this.#streams.channels()];
        for (let i = 0; i < channels.length; i += CHECK_CONCURRENCY) {
          const batch = channels.slice(i, i + CHECK_CONCURRENCY);
          const results = await Promise.all(batch.map((channel) => this.#streams.check(channel)));
          failed += results.filter((ok) => !ok).length;
        }
      } while (this.#checkAgain && !this.#closing);
      if (failed > 0 && !this.#closing) {
        this.logger.warn({ failed }, 'could not check some channels against the engine; trying again');
        setTimeout(() => void this.checkStreams(), CHECK_RETRY_MS).unref();
      }
    };
    this.#checking = round().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  // ---- Internals ----

  countSlowConsumer(): void {
    this.#slowConsumers += 1;
  }

  countInsufficientState(): void {
    this.#insufficientState += 1;
  }

  /** A client joined or left a channel somewhere: every live local subscriber hears it. */
  #onPresenceEvent(channel: string, event: PresenceEvent): void {
    const subscribers = this.hub.subscribers(channel);
    if (subscribers === undefined) return;
    // Publications queued for this turn were sent before the event: they go first.
    this.#fanOut.flushChannel(channel);
    const frame = Buffer.from(
      `{"push":{"channel":${JSON.stringify(channel)},${JSON.stringify(event.type)}:${JSON.stringify(event.entry)}}}`,
    );
    for (const session of subscribers) session.deliverEvent(channel, frame, event.entry.client);
  }

  #assertOpen(): void {
    if (this.#closing) throw new HeraldError('HERALD_ERR_SHUTTING_DOWN', 'the node is shutting down');
  }

  /** Reads a followed channel's position, and with `sinceOffset` what came after it. */
  #readStream(channel: string, sinceOffset: number | undefined) {
    const policy = historyPolicy(this.#rules.forChannel(channel));
    if (policy === undefined)
      throw new HeraldError('HERALD_ERR_HISTORY_DISABLED', `${channel} keeps no history`);
    const query = { limit: sinceOffset === undefined ? 0 : policy.size, reverse: false, history: policy };
    return this.#engine(
      'history',
      this.#broker.history(channel, sinceOffset === undefined ? query : { ...query, sinceOffset }),
    );
  }

  /** Times an engine call (just made) into herald_engine_duration_seconds, failures included. */
  #engine<T>(operation: EngineOperation, result: Promise<T>): Promise<T> {
    const started = performance.now();
    const end = () => this.metrics.observeEngine(operation, (performance.now() - started) / 1000);
    result.then(end, end);
    return result;
  }

  /**
   * The channel's history was rewritten (a Redis failover lost acknowledged writes, and offsets the
   * subscribers saw are being reused): end its epoch so no client recovers across the rewrite, and
   * make every local subscriber recover (it will learn `recovered: false`).
   */
  #onRewound(channel: string, position: StreamPosition): void {
    this.logger.warn({ channel, ...position }, 'channel history went backwards: ending its epoch');
    this.#broker.endEpoch(channel, position.epoch).catch((err: unknown) => {
      this.logger.error({ err, channel }, 'could not end the epoch of a rewritten channel');
    });
    this.#fanOut.flushChannel(channel);
    for (const session of [...(this.hub.subscribers(channel) ?? [])]) session.insufficientState(channel);
  }

  /** Makes the local subscribers that cannot reach `position` any more recover (3007). */
  #recoverBehind(channel: string, position: StreamPosition): void {
    // What is queued for the channel counts as passed on: subscribers are judged after taking it.
    this.#fanOut.flushChannel(channel);
    for (const session of [...(this.hub.subscribers(channel) ?? [])]) {
      if (session.isBehind(channel, position)) session.insufficientState(channel);
    }
  }

  /** Reconciles engine subscriptions (retrying failed calls) and checks every stream. */
  #maintain(): void {
    const channels = new Set([...this.#engineSubscriptions.channels(), ...this.hub.channelNames()]);
    for (const channel of channels) {
      this.#engineSubscriptions.sync(channel).catch((err: unknown) => {
        this.logger.debug({ err, channel }, 'engine subscription still out of line');
      });
    }
    void this.checkStreams();
  }

  #answerSurvey(request: SurveyRequest): unknown {
    switch (request.op) {
      case 'channels':
        return this.localChannels(request.pattern, SURVEY_CHANNELS_LIMIT);
      case 'disconnect':
        return this.disconnectLocal(request.target, { reconnect: request.reconnect });
      case 'subscribe':
        return this.subscribeLocal(request.user, request.channel);
      case 'unsubscribe':
        return this.unsubscribeLocal(request.user, request.channel);
    }
  }
}

function toOutcome(result: PublishResult): PublishOutcome {
  return result.position === undefined
    ? {}
    : { offset: result.position.offset, epoch: result.position.epoch };
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

/** A node's answer to a channels survey, ignoring anything malformed (a node of another version, say). */
function asLocalListing(answer: unknown): LocalListing {
  const { channels, truncated } = (answer ?? {}) as Partial<Record<keyof LocalListing, unknown>>;
  if (!Array.isArray(channels)) return { channels: [], truncated: false };
  const valid = channels.filter(
    (item: unknown): item is ChannelSummary =>
      typeof item === 'object' &&
      item !== null &&
      typeof (item as ChannelSummary).channel === 'string' &&
      typeof (item as ChannelSummary).subscribers === 'number',
  );
  return { channels: valid, truncated: truncated === true };
}

function sortedSummaries(counts: ReadonlyMap<string, number>): ChannelSummary[] {
  return [...counts]
    .map(([channel, subscribers]) => ({ channel, subscribers }))
    .sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/** The sum of the numeric survey answers (a node of another version may answer something else). */
function sumOf(answers: readonly unknown[]): number {
  return answers.reduce<number>((sum, answer) => sum + (typeof answer === 'number' ? answer : 0), 0);
}

/** Throws unless clients and the server API may publish to `channel` (Herald's own channels are not theirs). */
function assertPublishable(channel: string): void {
  assertChannel(channel);
  if (isReservedChannel(channel)) {
    throw new HeraldError('HERALD_ERR_INVALID_CHANNEL', `${channel} is reserved for Herald's own use`);
  }
}
