/**
 * One client connection, independent of its transport: parses incoming messages, runs commands in
 * the order they arrived, queues replies and publications into one outbound buffer that is flushed
 * once per event-loop turn, and enforces the connection's limits and deadlines.
 */
import { randomUUID } from 'node:crypto';
import { DisconnectCode, METHODS, splitFrame, type ConnectResult, type Method } from '@herald/protocol';
import { HeraldError, toHeraldError } from '../core/errors.ts';
import type { Publication, StreamPosition } from '../core/publication.ts';
import type { Identity } from '../auth/permissions.ts';
import type { TokenClaims } from '../auth/tokens.ts';
import {
  asParams,
  parseConnect,
  parseHistory,
  parsePublish,
  parseRefresh,
  parseSubscribe,
  parseUnsubscribe,
} from './command-params.ts';
import type { Beating } from './heartbeat.ts';
import type { Flushable } from './flush-scheduler.ts';
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
}

/** A subscription of this connection; while `pending` is set, live publications wait for recovery to finish. */
interface Subscription {
  lastOffset: number;
  epoch: string;
  pending: Publication[] | undefined;
}

type State = 'connecting' | 'connected' | 'closed';

const NEWLINE = Buffer.from('\n');
const MAX_QUEUED_COMMANDS = 1024;
/** A slow consumer's connection is dropped this long after its close frame was queued. */
const SLOW_CONSUMER_TERMINATE_MS = 1000;

export class ClientSession implements Flushable, Beating {
  readonly id = randomUUID();
  readonly transportName: string;
  #user = '';
  #state: State = 'connecting';
  #identity: Identity = { anonymous: true };
  #expiresAt: number | undefined;
  readonly #node: HeraldNode;
  readonly #transport: Transport;
  readonly #subscriptions = new Map<string, Subscription>();
  #outbound: Buffer[] = [];
  #outboundBytes = 0;
  #commands: string[] = [];
  #running = false;
  #connectDeadline: number;
  #nextPingAt = 0;
  #pongDeadline: number | undefined;

  constructor(node: HeraldNode, transport: Transport, transportName: string) {
    this.#node = node;
    this.#transport = transport;
    this.transportName = transportName;
    this.#connectDeadline = Date.now() + node.config.connectTimeoutMs;
  }

  get user(): string {
    return this.#user;
  }
  get identity(): Identity {
    return this.#identity;
  }
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** A frame of text from the client: one or more messages separated by newlines. */
  receive(frame: string): void {
    if (this.#state === 'closed') return;
    for (const message of splitFrame(frame)) {
      if (this.#commands.length >= MAX_QUEUED_COMMANDS) {
        this.disconnect(DisconnectCode.BAD_REQUEST, 'too many commands in flight');
        return;
      }
      this.#commands.push(message);
    }
    if (!this.#running) void this.#runCommands();
  }

  /** Called by the node's fan-out for every publication on a channel this session subscribes to. */
  deliver(publication: Publication, frame: Buffer): void {
    const subscription = this.#subscriptions.get(publication.channel);
    if (subscription === undefined) return;
    if (subscription.pending !== undefined) {
      subscription.pending.push(publication);
      this.#account(frame.length);
      return;
    }
    if (publication.offset > 0) {
      if (publication.epoch === subscription.epoch && publication.offset <= subscription.lastOffset) return;
      subscription.lastOffset = publication.offset;
      subscription.epoch = publication.epoch;
    }
    this.#enqueue(frame);
  }

  /** Writes everything queued since the last flush as one frame. */
  flush(): void {
    const queue = this.#outbound;
    if (queue.length === 0 || this.#state === 'closed') return;
    this.#outbound = [];
    this.#outboundBytes = 0;
    if (queue.length === 1) {
      this.#transport.send(queue[0] as Buffer);
      return;
    }
    const parts: Buffer[] = [];
    for (const message of queue) {
      if (parts.length > 0) parts.push(NEWLINE);
      parts.push(message);
    }
    this.#transport.send(Buffer.concat(parts));
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
      this.#pongDeadline ??= now + this.#node.config.pongTimeoutMs;
      this.#enqueueText('{"ping":{}}');
    }
  }

  /** Closes the connection with a protocol disconnect code; idempotent. */
  disconnect(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.flush();
    this.#transport.close(code, reason);
    this.onTransportClosed();
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
   * Counts bytes held for the client; false when it is a slow consumer (and was closed). The check
   * looks at what was already waiting before this message, so one message larger than the limit (a
   * big recovery reply) still goes out to a client that reads, and memory stays under the limit plus
   * one message.
   */
  #account(bytes: number): boolean {
    const waiting = this.#outboundBytes + this.#transport.bufferedAmount;
    this.#outboundBytes += bytes;
    if (waiting <= this.#node.config.maxOutboundBytes) return true;
    this.#slowConsumer();
    return false;
  }

  #enqueue(message: Buffer): void {
    if (this.#state === 'closed') return;
    this.#outbound.push(message);
    if (this.#account(message.length)) this.#node.flusher.markDirty(this);
  }

  #enqueueText(message: string): void {
    this.#enqueue(Buffer.from(message));
  }

  #slowConsumer(): void {
    if (this.#state === 'closed') return;
    this.#node.logger.warn({ client: this.id, user: this.#user }, 'slow consumer disconnected');
    this.#node.countSlowConsumer();
    // Queued data is dropped: the client recovers it from history when it reconnects.
    this.#outbound = [];
    this.#outboundBytes = 0;
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
    try {
      const result = await this.#dispatch(method as Method, asParams(method, fields[method]));
      this.#enqueueText(`{"id":${id},"result":${result}}`);
    } catch (err) {
      this.#replyError(id, err);
      if (method === 'connect') this.#failConnect(err);
    }
    if (method === 'subscribe' && this.#state !== 'closed') this.#activate(fields[method]);
  }

  /** Runs one command; resolves to the JSON text of its result. */
  async #dispatch(method: Method, params: Record<string, unknown>): Promise<string> {
    if (method === 'ping') return '{}';
    if (method === 'connect') return JSON.stringify(await this.#connect(params));
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
        const subscription: Subscription = { lastOffset: 0, epoch: '', pending: [] };
        this.#subscriptions.set(request.channel, subscription);
        try {
          const result = await this.#node.subscribeClient(this, request.channel, request.since);
          if (result.position !== undefined) {
            subscription.lastOffset = result.position.offset;
            subscription.epoch = result.position.epoch;
          }
          return encodeSubscribeResult(result);
        } catch (err) {
          if (this.#subscriptions.get(request.channel) === subscription)
            this.#subscriptions.delete(request.channel);
          this.#node.unsubscribeClient(this, request.channel);
          throw err;
        }
      }
      case 'unsubscribe': {
        const { channel } = parseUnsubscribe(params);
        if (this.#subscriptions.delete(channel)) this.#node.unsubscribeClient(this, channel);
        return '{}';
      }
      case 'publish': {
        const request = parsePublish(params);
        const info = { client: this.id, user: this.#user };
        return JSON.stringify(
          await this.#node.clientPublish(this.#identity, request.channel, request.dataJson, info),
        );
      }
      case 'history':
        return encodeHistoryResult(await this.#node.clientHistory(this.#identity, parseHistory(params)));
      case 'refresh':
        return JSON.stringify(await this.#refresh(params));
    }
  }

  async #connect(params: Record<string, unknown>): Promise<ConnectResult> {
    if (this.#state !== 'connecting')
      throw new HeraldError('HERALD_ERR_ALREADY_CONNECTED', 'already connected');
    const request = parseConnect(params);
    const claims = await this.#node.authenticate(request.token);
    if (this.#state !== 'connecting')
      throw new HeraldError('HERALD_ERR_ALREADY_CONNECTED', 'already connected');
    this.#applyClaims(claims);
    this.#state = 'connected';
    this.#nextPingAt = Date.now() + this.#node.config.pingIntervalMs;
    this.#node.registerSession(this);
    const result: ConnectResult = {
      client: this.id,
      version: this.#node.version,
      ping: Math.round(this.#node.config.pingIntervalMs / 1000),
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
    this.#identity = { anonymous: false, user: claims.user, channels: claims.channels };
    this.#expiresAt = claims.expires === undefined ? undefined : claims.expires * 1000;
  }

  async #refresh(params: Record<string, unknown>): Promise<{ expires?: number }> {
    const { token } = parseRefresh(params);
    const claims = await this.#node.authenticate(token);
    if (claims === undefined || claims.user !== this.#user) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'the new token must be for the same user');
    }
    this.#applyClaims(claims);
    return claims.expires === undefined ? {} : { expires: claims.expires };
  }

  /** A failed connect ends the connection: the client must fix its credentials first. */
  #failConnect(err: unknown): void {
    const error = toHeraldError(err);
    if (error.code === 'HERALD_ERR_ALREADY_CONNECTED') return;
    if (error.code === 'HERALD_ERR_TOKEN_EXPIRED')
      this.disconnect(DisconnectCode.TOKEN_EXPIRED, 'token expired');
    else if (error.code === 'HERALD_ERR_UNAUTHORIZED')
      this.disconnect(DisconnectCode.UNAUTHORIZED, 'unauthorized');
    else if (error.temporary) this.disconnect(DisconnectCode.INTERNAL, 'connect failed');
    else this.disconnect(DisconnectCode.BAD_REQUEST, 'bad connect');
  }

  /**
   * After the subscribe reply is queued: deliver, in order, the live publications that arrived while
   * the subscription was being set up, skipping those the reply already covered.
   */
  #activate(params: unknown): void {
    const channel = (params as { channel?: unknown } | null)?.channel;
    if (typeof channel !== 'string') return;
    const subscription = this.#subscriptions.get(channel);
    const pending = subscription?.pending;
    if (subscription === undefined || pending === undefined) return;
    subscription.pending = undefined;
    for (const publication of pending) this.deliver(publication, this.#node.encodePush(publication));
  }

  #replyError(id: number | undefined, err: unknown): void {
    const error = toHeraldError(err);
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

export type { StreamPosition };
