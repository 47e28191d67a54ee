/**
 * One client connection, independent of its transport: parses incoming messages, runs commands in
 * the order they arrived, queues replies and publications into one outbound buffer that is flushed
 * once per event-loop turn, and enforces the connection's limits and deadlines.
 */
import { randomUUID } from 'node:crypto';
import {
  DisconnectCode,
  METHODS,
  UnsubscribeCode,
  splitFrame,
  type ClientInfo,
  type JsonValue,
  type ConnectRequest,
  type ConnectResult,
  type Method,
} from '@herald/protocol';
import { HeraldError, toHeraldError } from '../core/errors.ts';
import type { Publication, StreamPosition } from '../core/publication.ts';
import type { Identity } from '../auth/permissions.ts';
import type { TokenClaims } from '../auth/tokens.ts';
import {
  asParams,
  parseConnect,
  parseHistory,
  parsePresence,
  parsePresenceStats,
  parsePublish,
  parseRefresh,
  parseSubscribe,
  parseUnsubscribe,
} from './command-params.ts';
import type { Beating } from './heartbeat.ts';
import type { PublicationRun, RunSpan, RunSubscriber } from './channel-fanout.ts';
import type { Flushable } from './flush-scheduler.ts';
import { TokenBucket } from './token-bucket.ts';
import type { HeraldNode } from './node.ts';
import { encodeHistoryResult, encodeSubscribeResult } from './encode-results.ts';

/** What a session needs from its transport (WebSocket now, SSE later). */
export interface Transport {
  /** Sends one frame of text. */
  send(frame: Buffer): void;
  /** Bytes handed to the transport but not yet written to the network. */
  readonly bufferedAmount: number;
  /** Closes with a code and reason; the transport must then report `onClosed` once. */
  close(code: number, reason: string): void;
  /** Drops the connection at once. */
  terminate(): void;
  /**
   * Whether the client can answer server pings. SSE clients cannot (the stream is one-way): their
   * dead connections show as failed writes instead.
   */
  readonly answersPings: boolean;
}

/** A live publication held back, with its encoded push, while its subscription is being set up. */
interface Held {
  readonly publication: Publication;
  readonly frame: Buffer;
}

/** A subscription of this connection; while `pending` is set, live publications wait for recovery to finish. */
interface Subscription {
  lastOffset: number;
  epoch: string;
  pending: Held[] | undefined;
}

/** A command's result, and what to do once its reply is queued. */
interface Outcome {
  readonly result: string;
  readonly afterReply?: () => void;
}

type State = 'connecting' | 'connected' | 'closed';

const MAX_QUEUED_COMMANDS = 1024;
/** The user of the dashboard's connections. A token's user of that name gains nothing: permissions look at the identity. */
const DASHBOARD_USER = '$dashboard';
/** A slow consumer's connection is dropped this long after its close frame was queued. */
const SLOW_CONSUMER_TERMINATE_MS = 1000;

export class ClientSession implements Flushable, Beating, RunSubscriber {
  readonly id = randomUUID();
  readonly transportName: string;
  #user = '';
  #state: State = 'connecting';
  #identity: Identity = { anonymous: true };
  #expiresAt: number | undefined;
  #info: JsonValue | undefined;
  readonly #node: HeraldNode;
  readonly #transport: Transport;
  readonly #dashboardUntil: number | undefined;
  readonly #subscriptions = new Map<string, Subscription>();
  #outbound: Buffer[] = [];
  #outboundBytes = 0;
  /** Bytes of publications held back by subscriptions being set up. */
  #heldBytes = 0;
  #commands: string[] = [];
  #running = false;
  #connectDeadline: number;
  readonly #commandBucket: TokenBucket;
  /** Created at the first publish: most connections never publish. */
  #publishBucket: TokenBucket | undefined;
  #nextPingAt = 0;
  #pongDeadline: number | undefined;
  /** Set by {@link disconnectAfterCommands}: the close to make once the commands received have run. */
  #closeAfterCommands: { readonly code: number; readonly reason: string } | undefined;

  /**
   * @param dashboardUntil when the connection's HTTP request carried a signed-in dashboard's cookie,
   *   the session's expiry (ms): a `connect` without a token is then the dashboard's own identity,
   *   closed like an expired token (3003) when the sign-in ends.
   */
  constructor(
    node: HeraldNode,
    transport: Transport,
    transportName: string,
    dashboardUntil: number | undefined = undefined,
  ) {
    this.#dashboardUntil = dashboardUntil;
    this.#node = node;
    this.#transport = transport;
    this.transportName = transportName;
    this.#connectDeadline = Date.now() + node.config.connectTimeoutMs;
    // The burst also covers a reconnect that resubscribes every subscription a connection may hold.
    const { commandRate, maxSubscriptionsPerConnection } = node.config;
    this.#commandBucket = new TokenBucket(commandRate, commandRate * 2 + maxSubscriptionsPerConnection);
  }

  get user(): string {
    return this.#user;
  }
  /** The `info` claim of the client's token. */
  get info(): JsonValue | undefined {
    return this.#info;
  }
  get identity(): Identity {
    return this.#identity;
  }
  /** The dashboard watches channels without being part of their presence. */
  get invisible(): boolean {
    return this.#identity.dashboard === true;
  }
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** A frame of text from the client: one or more messages separated by newlines. */
  receive(frame: string): void {
    if (this.#state === 'closed' || this.#closeAfterCommands !== undefined) return;
    for (const message of splitFrame(frame)) {
      // Pongs skip the command queue: a client busy with slow commands is still alive.
      if (message.includes('"pong"') && isPong(message)) {
        this.#pongDeadline = undefined;
        continue;
      }
      if (this.#commands.length >= MAX_QUEUED_COMMANDS) {
        this.disconnect(DisconnectCode.BAD_REQUEST, 'too many commands in flight');
        return;
      }
      this.#commands.push(message);
    }
    if (!this.#running) void this.#runCommands();
  }

  /**
   * Called by the node's fan-out with a turn's publications of a channel this session subscribes to.
   * A live subscription whose stream the run simply continues takes the run's shared buffer as it
   * is; anything else (a subscription being set up, a seam with the history it recovered, a gap)
   * is judged publication by publication.
   */
  deliverRun(run: PublicationRun): void {
    const subscription = this.#subscriptions.get(run.channel);
    if (subscription === undefined) return;
    if (subscription.pending !== undefined || !continues(subscription, run.span)) {
      for (let i = 0; i < run.publications.length; i++) {
        this.#deliver(run.publications[i] as Publication, run.pushes[i] as Buffer);
      }
      return;
    }
    if (run.span !== undefined) subscription.lastOffset = run.span.last;
    // With one subscription nothing else can share this turn's frame: write now, skipping the
    // queue. Otherwise queue, so that all of the turn's runs leave in one frame.
    if (this.#outbound.length > 0 || this.#subscriptions.size > 1) {
      this.#enqueue(run.joined);
    } else if (this.#state !== 'closed' && !this.#overLimit()) {
      this.#transport.send(run.joined);
    }
  }

  /**
   * A join or leave event on `channel`: sent to a live subscription, dropped for one being set up
   * (events are not part of the stream and are not recovered).
   */
  deliverEvent(channel: string, frame: Buffer, aboutClient: string): void {
    if (aboutClient === this.id) return; // a client does not hear its own join or leave
    const subscription = this.#subscriptions.get(channel);
    if (subscription === undefined || subscription.pending !== undefined) return;
    this.#enqueue(frame);
  }

  #deliver(publication: Publication, frame: Buffer): void {
    const subscription = this.#subscriptions.get(publication.channel);
    if (subscription === undefined) return;
    if (subscription.pending !== undefined) {
      if (this.#overLimit()) return;
      subscription.pending.push({ publication, frame });
      this.#heldBytes += frame.length;
      return;
    }
    // Each subscription that keeps history checks its own continuity: the node repairs the gaps it
    // can, and whatever reaches here out of line (a skipped offset, another epoch) must not be passed
    // over silently.
    if (subscription.epoch !== '') {
      if (publication.epoch !== subscription.epoch || publication.offset > subscription.lastOffset + 1) {
        this.insufficientState(publication.channel);
        return;
      }
      if (publication.offset <= subscription.lastOffset) return; // the seam between history and live
      subscription.lastOffset = publication.offset;
    }
    this.#enqueue(frame);
  }

  /**
   * Subscribes this connection to `channel` on the server's initiative (a personal channel, or the
   * server API) without a permission check, and tells the client with a `subscribe` push carrying what
   * a subscribe reply would. False when the connection already holds the channel, or is not connected.
   */
  serverSubscribe(channel: string, since?: StreamPosition, options: { required?: boolean } = {}): boolean {
    if (this.#state !== 'connected' || this.#subscriptions.has(channel)) return false;
    const subscription: Subscription = {
      lastOffset: since?.offset ?? 0,
      epoch: since?.epoch ?? '',
      pending: [],
    };
    this.#subscriptions.set(channel, subscription);
    const current = () => this.#state !== 'closed' && this.#subscriptions.get(channel) === subscription;
    this.#node.subscribeServerSide(this, channel, since, current).then(
      (result) => {
        if (this.#subscriptions.get(channel) !== subscription || this.#state === 'closed') return;
        subscription.lastOffset = result.position?.offset ?? 0;
        subscription.epoch = result.position?.epoch ?? '';
        this.#enqueueText(
          `{"push":{"channel":${JSON.stringify(channel)},"subscribe":${encodeSubscribeResult(result)}}}`,
        );
        this.#activate(subscription);
      },
      (err: unknown) => {
        this.#dropSubscription(channel, subscription);
        if (this.#state === 'closed') return;
        this.#node.logger.warn({ err, client: this.id, channel }, 'server-side subscribe failed');
        // A connection must not live on without its personal channel: it reconnects and tries again.
        if (options.required === true)
          this.disconnect(DisconnectCode.INTERNAL, 'personal channel unavailable');
      },
    );
    return true;
  }

  /** Ends this connection's subscription to `channel` on the server's initiative, with an `unsubscribe` push. */
  serverUnsubscribe(channel: string): boolean {
    const subscription = this.#subscriptions.get(channel);
    if (subscription === undefined || this.#state !== 'connected') return false;
    this.#dropSubscription(channel, subscription);
    const push = {
      channel,
      unsubscribe: { code: UnsubscribeCode.SERVER, reason: 'unsubscribed by the server' },
    };
    this.#enqueueText(JSON.stringify({ push }));
    return true;
  }

  /** Forgets a subscription and what it held back, and releases the channel on the node. */
  #dropSubscription(channel: string, subscription: Subscription): void {
    for (const { frame } of subscription.pending ?? []) this.#heldBytes -= frame.length;
    subscription.pending = undefined;
    if (this.#subscriptions.get(channel) !== subscription) return;
    this.#subscriptions.delete(channel);
    this.#node.unsubscribeClient(this, channel);
  }

  /**
   * The stream position of every subscription that keeps history: where the client stands after
   * everything sent so far (the SSE transport sends it as each event's id). A subscription being set
   * up reports the position it asked to recover from.
   */
  streamPositions(): Map<string, StreamPosition> {
    const positions = new Map<string, StreamPosition>();
    for (const [channel, { epoch, lastOffset }] of this.#subscriptions) {
      if (epoch !== '') positions.set(channel, { offset: lastOffset, epoch });
    }
    return positions;
  }

  /**
   * Whether this connection's stream of `channel` cannot reach `position` without publications the
   * node no longer has: it is on another epoch, behind it, or still being set up (its position not
   * known yet).
   */
  isBehind(channel: string, position: StreamPosition): boolean {
    const subscription = this.#subscriptions.get(channel);
    if (subscription === undefined) return false;
    if (subscription.pending !== undefined) return true;
    return subscription.epoch !== position.epoch || subscription.lastOffset < position.offset;
  }

  /**
   * The node cannot continue this connection's stream of `channel` without a gap: the client is
   * closed with 3007 and recovers from its last position when it reconnects (or learns
   * `recovered: false`). The whole connection goes, because the protocol recovers on reconnect.
   */
  insufficientState(channel: string): void {
    if (!this.#subscriptions.has(channel) || this.#state === 'closed') return;
    this.#node.logger.info(
      { client: this.id, user: this.#user, channel },
      'client must recover: stream discontinuous',
    );
    this.#node.countInsufficientState();
    this.disconnect(DisconnectCode.INSUFFICIENT_STATE, 'insufficient state');
  }

  /** Writes everything queued since the last flush as one frame. */
  flush(): void {
    const queue = this.#outbound;
    if (queue.length === 0 || this.#state === 'closed') return;
    this.#outbound = [];
    this.#outboundBytes = 0;
    this.#transport.send(this.#node.flusher.join(queue));
  }

  beat(now: number): void {
    if (this.#state === 'connecting') {
      if (now >= this.#connectDeadline) this.disconnect(DisconnectCode.CONNECT_TIMEOUT, 'connect timeout');
      return;
    }
    if (this.#state !== 'connected') return;
    if (this.#expiresAt !== undefined && now >= this.#expiresAt) {
      this.disconnect(DisconnectCode.TOKEN_EXPIRED, 'token expired');
    } else if (this.#pongDeadline !== undefined && now >= this.#pongDeadline) {
      this.disconnect(DisconnectCode.NO_PONG, 'no pong');
    } else if (now >= this.#nextPingAt) {
      this.#nextPingAt = now + this.#node.config.pingIntervalMs;
      if (this.#transport.answersPings) this.#pongDeadline ??= now + this.#node.config.pongTimeoutMs;
      this.#enqueueText('{"ping":{}}');
    }
  }

  /** Closes the connection with a protocol disconnect code; idempotent. */
  disconnect(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#node.metrics.countDisconnect(code);
    this.flush();
    this.#transport.close(code, reason);
    this.onTransportClosed();
  }

  /**
   * Closes the connection like {@link disconnect}, but only after the commands already received have
   * run and their replies are queued, so that a publish under way is answered (stored, or failed)
   * rather than left in doubt. Commands arriving meanwhile are not run: the close tells the client
   * they were not answered. With no command running, closes at once.
   */
  disconnectAfterCommands(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    if (!this.#running) {
      this.disconnect(code, reason);
      return;
    }
    this.#closeAfterCommands ??= { code, reason };
  }

  /** The transport closed (or the session closed it): release everything the session holds. */
  onTransportClosed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#outbound = [];
    this.#commands = [];
    this.#node.releaseSession(this, [...this.#subscriptions.keys()]);
    this.#subscriptions.clear();
  }

  /**
   * True (and the client closed as a slow consumer) when more than the limit is already waiting for
   * it: queued, held back, or not yet written by the transport. Judging what waits *before* a new
   * message lets one message larger than the limit (a big recovery reply) through to a client that
   * reads, while memory stays under the limit plus one message.
   */
  #overLimit(): boolean {
    const waiting = this.#outboundBytes + this.#heldBytes + this.#transport.bufferedAmount;
    if (waiting <= this.#node.config.maxOutboundBytes) return false;
    this.#slowConsumer();
    return true;
  }

  #enqueue(message: Buffer): void {
    if (this.#state === 'closed' || this.#overLimit()) return;
    this.#outbound.push(message);
    this.#outboundBytes += message.length;
    this.#node.flusher.markDirty(this);
  }

  #enqueueText(message: string): void {
    this.#enqueue(Buffer.from(message));
  }

  #slowConsumer(): void {
    if (this.#state === 'closed') return;
    this.#node.logger.warn({ client: this.id, user: this.#user }, 'slow consumer disconnected');
    this.#node.countSlowConsumer();
    this.#node.metrics.countDisconnect(DisconnectCode.SLOW_CONSUMER);
    // Queued data is dropped: the client recovers it from history when it reconnects.
    this.#outbound = [];
    this.#outboundBytes = 0;
    this.#heldBytes = 0;
    this.#transport.close(DisconnectCode.SLOW_CONSUMER, 'slow consumer');
    const transport = this.#transport;
    setTimeout(() => transport.terminate(), SLOW_CONSUMER_TERMINATE_MS).unref();
    this.onTransportClosed();
  }

  async #runCommands(): Promise<void> {
    this.#running = true;
    try {
      let message: string | undefined;
      while ((message = this.#commands.shift()) !== undefined && this.#state !== 'closed') {
        await this.#handleMessage(message);
      }
    } finally {
      this.#running = false;
      const close = this.#closeAfterCommands;
      if (close !== undefined) this.disconnect(close.code, close.reason);
    }
  }

  async #handleMessage(message: string): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      this.#replyError(undefined, new HeraldError('HERALD_ERR_INVALID_JSON', 'message is not valid JSON'));
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.#replyError(
        undefined,
        new HeraldError('HERALD_ERR_INVALID_JSON', 'message must be a JSON object'),
      );
      return;
    }
    const fields = parsed as Record<string, unknown>;
    if ('pong' in fields) {
      this.#pongDeadline = undefined;
      return;
    }
    const id = fields['id'];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      this.#replyError(
        undefined,
        new HeraldError('HERALD_ERR_BAD_REQUEST', '"id" must be a positive integer'),
      );
      return;
    }
    const methods = Object.keys(fields).filter((key) => key !== 'id');
    const method = methods[0];
    if (methods.length !== 1 || method === undefined) {
      const problem = 'a command must have exactly one method besides "id"';
      this.#replyError(id, new HeraldError('HERALD_ERR_BAD_REQUEST', problem));
      return;
    }
    if (!(METHODS as readonly string[]).includes(method)) {
      this.#replyError(id, new HeraldError('HERALD_ERR_UNKNOWN_COMMAND', `unknown command "${method}"`));
      return;
    }
    if (!this.#commandBucket.take()) {
      const rate = this.#node.config.commandRate;
      const problem = `more than ${rate} commands a second: slow down`;
      this.#replyError(id, new HeraldError('HERALD_ERR_COMMAND_RATE_LIMITED', problem));
      return;
    }
    try {
      // A second connect is answered 109 whatever its params, and leaves the connection open.
      if (method === 'connect' && this.#state !== 'connecting') {
        throw new HeraldError('HERALD_ERR_ALREADY_CONNECTED', 'already connected');
      }
      const outcome = await this.#dispatch(method as Method, asParams(method, fields[method]));
      this.#enqueueText(`{"id":${id},"result":${outcome.result}}`);
      outcome.afterReply?.();
    } catch (err) {
      this.#replyError(id, err);
      if (method === 'connect') this.#failConnect(err);
    }
  }

  /** Runs one command; resolves to the JSON text of its result. */
  async #dispatch(method: Method, params: Record<string, unknown>): Promise<Outcome> {
    if (method === 'ping') return { result: '{}' };
    if (method === 'connect') {
      const request = parseConnect(params);
      const result = JSON.stringify(await this.#connect(request));
      // Personal channels are subscribed once the client has its connect reply, resuming from the
      // positions the client names in `subs`.
      const personal = () => {
        for (const channel of this.#node.personalChannels(this.#user)) {
          this.serverSubscribe(channel, request.subs?.[channel]?.since, { required: true });
        }
      };
      return { result, afterReply: personal };
    }
    if (this.#state !== 'connected') {
      throw new HeraldError('HERALD_ERR_NOT_CONNECTED', `send "connect" before "${method}"`);
    }
    switch (method) {
      case 'subscribe': {
        const request = parseSubscribe(params);
        if (this.#subscriptions.has(request.channel)) {
          throw new HeraldError('HERALD_ERR_ALREADY_SUBSCRIBED', `already subscribed to ${request.channel}`);
        }
        if (this.#subscriptions.size >= this.#node.config.maxSubscriptionsPerConnection) {
          const max = this.#node.config.maxSubscriptionsPerConnection;
          throw new HeraldError(
            'HERALD_ERR_TOO_MANY_SUBSCRIPTIONS',
            `a connection may hold ${max} subscriptions`,
          );
        }
        const subscription: Subscription = {
          lastOffset: request.since?.offset ?? 0,
          epoch: request.since?.epoch ?? '',
          pending: [],
        };
        this.#subscriptions.set(request.channel, subscription);
        try {
          const current = () =>
            this.#state !== 'closed' && this.#subscriptions.get(request.channel) === subscription;
          const result = await this.#node.subscribeClient(
            this,
            request.channel,
            request.since,
            request.token,
            current,
          );
          if (!current()) {
            throw new HeraldError(
              'HERALD_ERR_PERMISSION_DENIED',
              `the server unsubscribed the connection from ${request.channel} meanwhile`,
            );
          }
          subscription.lastOffset = result.position?.offset ?? 0;
          subscription.epoch = result.position?.epoch ?? '';
          return { result: encodeSubscribeResult(result), afterReply: () => this.#activate(subscription) };
        } catch (err) {
          // What was held back for the failed subscription no longer waits for the client.
          this.#dropSubscription(request.channel, subscription);
          throw err;
        }
      }
      case 'unsubscribe': {
        const { channel } = parseUnsubscribe(params);
        const subscription = this.#subscriptions.get(channel);
        if (subscription !== undefined) this.#dropSubscription(channel, subscription);
        return { result: '{}' };
      }
      case 'publish': {
        const rate = this.#node.config.publishRate;
        this.#publishBucket ??= new TokenBucket(rate, rate * 2);
        if (!this.#publishBucket.take()) {
          throw new HeraldError(
            'HERALD_ERR_PUBLISH_RATE_LIMITED',
            `more than ${rate} publishes a second (bursts of ${rate * 2}): slow down`,
          );
        }
        const request = parsePublish(params);
        const info: ClientInfo = {
          client: this.id,
          user: this.#user,
          ...(this.#info === undefined ? {} : { info: this.#info }),
        };
        const published = await this.#node.clientPublish(
          this.#identity,
          request.channel,
          request.dataJson,
          info,
          this.#isSubscribed(request.channel),
        );
        return { result: JSON.stringify(published) };
      }
      case 'history': {
        const request = parseHistory(params);
        const history = await this.#node.clientHistory(
          this.#identity,
          request,
          this.#isSubscribed(request.channel),
        );
        return { result: encodeHistoryResult(history) };
      }
      case 'refresh':
        return { result: JSON.stringify(await this.#refresh(params)) };
      case 'presence': {
        const request = parsePresence(params);
        const page = await this.#node.clientPresence(
          this.#identity,
          request,
          this.#isSubscribed(request.channel),
        );
        return { result: JSON.stringify(page.cursor === undefined ? { clients: page.clients } : page) };
      }
      case 'presence_stats': {
        const { channel } = parsePresenceStats(params);
        const stats = await this.#node.clientPresenceStats(
          this.#identity,
          channel,
          this.#isSubscribed(channel),
        );
        return { result: JSON.stringify(stats) };
      }
    }
  }

  async #connect(request: ConnectRequest): Promise<ConnectResult> {
    if (this.#state !== 'connecting')
      throw new HeraldError('HERALD_ERR_ALREADY_CONNECTED', 'already connected');
    const asDashboard =
      this.#dashboardUntil !== undefined && (request.token === undefined || request.token === '');
    const claims = asDashboard ? undefined : await this.#node.authenticate(request.token);
    if (this.#state !== 'connecting')
      throw new HeraldError('HERALD_ERR_ALREADY_CONNECTED', 'already connected');
    if (asDashboard) {
      this.#user = DASHBOARD_USER;
      this.#identity = { anonymous: false, dashboard: true, user: DASHBOARD_USER, channels: undefined };
      this.#expiresAt = this.#dashboardUntil;
    } else this.#applyClaims(claims);
    this.#node.registerSession(this);
    this.#state = 'connected';
    this.#nextPingAt = Date.now() + this.#node.config.pingIntervalMs;
    const { name, version } = request;
    this.#node.logger.debug({ client: this.id, user: this.#user, name, version }, 'client connected');
    const result: ConnectResult = {
      client: this.id,
      version: this.#node.version,
      ping: Math.max(1, Math.round(this.#node.config.pingIntervalMs / 1000)),
    };
    if (claims?.expires !== undefined) result.expires = claims.expires;
    return result;
  }

  #applyClaims(claims: TokenClaims | undefined): void {
    if (claims === undefined) {
      this.#identity = { anonymous: true };
      this.#expiresAt = undefined;
      return;
    }
    this.#user = claims.user;
    this.#info = claims.info;
    this.#identity = { anonymous: false, user: claims.user, channels: claims.channels };
    // The same clock-skew tolerance as at connect, so a token accepted there is not dropped at once.
    this.#expiresAt =
      claims.expires === undefined
        ? undefined
        : claims.expires * 1000 + this.#node.config.tokenClockToleranceMs;
  }

  async #refresh(params: Record<string, unknown>): Promise<{ expires?: number }> {
    const { token } = parseRefresh(params);
    if (this.#identity.dashboard === true) {
      throw new HeraldError('HERALD_ERR_BAD_REQUEST', "the dashboard's connection has no token to refresh");
    }
    const claims = await this.#node.authenticate(token);
    if (claims === undefined || claims.user !== this.#user) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'the new token must be for the same user');
    }
    this.#applyClaims(claims);
    return claims.expires === undefined ? {} : { expires: claims.expires };
  }

  /** Whether the connection holds a subscription to `channel` (set up, not only asked for). */
  #isSubscribed(channel: string): boolean {
    const subscription = this.#subscriptions.get(channel);
    return subscription !== undefined && subscription.pending === undefined;
  }

  /** A failed connect ends the connection: the client must fix its credentials first. */
  #failConnect(err: unknown): void {
    const error = toHeraldError(err);
    if (error.code === 'HERALD_ERR_ALREADY_CONNECTED') return;
    if (error.code === 'HERALD_ERR_UNAUTHORIZED' || error.code === 'HERALD_ERR_TOKEN_EXPIRED') {
      this.#node.authFailures.log(
        { client: this.id, transport: this.transportName, code: error.code, reason: error.message },
        'client authentication failed',
      );
    }
    if (error.code === 'HERALD_ERR_TOKEN_EXPIRED')
      this.disconnect(DisconnectCode.TOKEN_EXPIRED, 'token expired');
    else if (error.code === 'HERALD_ERR_UNAUTHORIZED')
      this.disconnect(DisconnectCode.UNAUTHORIZED, 'unauthorized');
    else if (error.code === 'HERALD_ERR_SHUTTING_DOWN') this.disconnect(DisconnectCode.SHUTDOWN, 'shutdown');
    else if (error.code === 'HERALD_ERR_TOO_MANY_CONNECTIONS')
      this.disconnect(DisconnectCode.CONNECTION_LIMIT, 'too many connections');
    else if (error.temporary) this.disconnect(DisconnectCode.INTERNAL, 'connect failed');
    else this.disconnect(DisconnectCode.BAD_REQUEST, 'bad connect');
  }

  /**
   * After the subscribe reply is queued: deliver, in order, the live publications that arrived while
   * the subscription was being set up, skipping those the reply already covered.
   */
  #activate(subscription: Subscription): void {
    const held = subscription.pending;
    if (held === undefined || this.#state === 'closed') return;
    subscription.pending = undefined;
    for (const { publication, frame } of held) {
      this.#heldBytes -= frame.length;
      this.#deliver(publication, frame);
    }
  }

  #replyError(id: number | undefined, err: unknown): void {
    const error = toHeraldError(err);
    this.#node.metrics.countError(error.code, 'client');
    if (error.code === 'HERALD_ERR_INTERNAL')
      this.#node.logger.error({ err, client: this.id }, 'command failed');
    const payload = JSON.stringify({
      code: error.wireCode,
      message: error.message,
      ...(error.temporary ? { temporary: true } : {}),
    });
    this.#enqueueText(id === undefined ? `{"error":${payload}}` : `{"id":${id},"error":${payload}}`);
  }
}

/**
 * Whether a run continues a live subscription's stream as it is: any run when the channel keeps no
 * history, else a run of consecutive offsets starting right after the subscription's last one.
 */
function continues(subscription: Subscription, span: RunSpan | undefined): boolean {
  if (subscription.epoch === '') return true;
  return (
    span !== undefined && span.epoch === subscription.epoch && span.first === subscription.lastOffset + 1
  );
}

/** Whether a message is the client's answer to a server ping, `{"pong":{}}`. */
function isPong(message: string): boolean {
  try {
    const parsed: unknown = JSON.parse(message);
    return parsed !== null && typeof parsed === 'object' && 'pong' in parsed && !('id' in parsed);
  } catch {
    return false;
  }
}
