/**
 * The Herald client: one connection to a Herald server, kept alive across network trouble, carrying
 * any number of subscriptions. Its state machine — disconnected → connecting → connected — changes in
 * one place ({@link Herald.#setState}). While the app wants to be connected the client reconnects by
 * itself, with full-jitter exponential backoff, and every subscription recovers from its last
 * position. It watches the server's pings to notice dead connections, refreshes expiring tokens over
 * the live connection, and sends everything queued in one tick as one frame.
 */
import {
  DisconnectCode,
  shouldReconnect,
  splitFrame,
  type ClientInfo,
  type Commands,
  type ConnectResult,
  type HistoryRequest,
  type HistoryResult,
  type Method,
  type PublicationFrame,
  type PublishResult,
  type PresenceRequest,
  type PresenceResult,
  type PresenceStatsResult,
  type ReplyFrame,
  type SubscribeResult,
} from '@herald/protocol';
import { backoffDelay } from './backoff.ts';
import { Emitter } from './emitter.ts';
import {
  ClientErrorCode,
  ConnectionClosedError,
  HeraldError,
  ServerError,
  StateError,
  TimeoutError,
} from './errors.ts';
import { ServerSubscriptions, type ServerSubscribedContext } from './server-subscriptions.ts';
import { Subscription, type Publication, type SubscriptionOptions } from './subscription.ts';
import { openSse, sseUrlOf, type EventSourceConstructor, type FetchFunction } from './sse-transport.ts';
import {
  openWebSocket,
  type Transport,
  type TransportEvents,
  type TransportName,
  type WebSocketConstructor,
} from './transport.ts';

export type ClientState = 'disconnected' | 'connecting' | 'connected';

export interface HeraldOptions {
  /** A connection token (JWT). Use `getToken` instead for tokens that expire. */
  readonly token?: string;
  /**
   * Called for a token before every connection attempt and again before the token expires (the new
   * token is sent over the live connection, without reconnecting). Takes precedence over `token`.
   */
  readonly getToken?: () => Promise<string>;
  /** The WebSocket implementation: the global `WebSocket` by default; pass `ws`'s in Node.js 20. */
  readonly websocket?: WebSocketConstructor;
  /**
   * Transports to try, in order (default WebSocket, then SSE). Until one of them connects, a failed
   * attempt moves on to the next at once; the first that connects is kept for every reconnect.
   */
  readonly transports?: readonly TransportName[];
  /** The SSE endpoint (default: derived from `url`, `/connection/websocket` → `/connection/sse`). */
  readonly sseUrl?: string;
  /** The EventSource implementation for SSE: the global `EventSource` by default. */
  readonly eventsource?: EventSourceConstructor;
  /** The fetch implementation for SSE commands: the global `fetch` by default. */
  readonly fetch?: FetchFunction;
  /** Reported to the server for its logs. */
  readonly name?: string;
  readonly version?: string;
  /** Upper bound of the first reconnect delay, ms (default 500). Delays are random up to the bound. */
  readonly minReconnectDelay?: number;
  /** The largest reconnect delay bound, ms (default 20,000). */
  readonly maxReconnectDelay?: number;
  /** How long to wait for a connection or a reply, ms (default 10,000). */
  readonly timeout?: number;
}

export interface ClientEvents {
  state: { readonly oldState: ClientState; readonly newState: ClientState };
  /** A connection attempt begins; `code`/`reason` say why (0 for `connect()`, else the close that caused it). */
  connecting: { readonly code: number; readonly reason: string };
  connected: { readonly client: string; readonly version: string; readonly transport: TransportName };
  /** The client stopped for good: `disconnect()` (code 0), or a close the server marked terminal. */
  disconnected: { readonly code: number; readonly reason: string };
  /** Something failed that the client handles by itself (a connection attempt, a token refresh). */
  error: { readonly error: HeraldError; readonly during: 'connect' | 'refresh' | 'transport' };
  /** The server subscribed the client to a channel (a personal channel, or through the server API). */
  subscribed: ServerSubscribedContext;
  /** A publication on a channel the server subscribed the client to. */
  publication: Publication<unknown>;
  /** The server ended one of its subscriptions. */
  unsubscribed: { readonly channel: string; readonly code: number; readonly reason: string };
}

interface PendingCall {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: HeraldError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const DEFAULTS = { minReconnectDelay: 500, maxReconnectDelay: 20_000, timeout: 10_000 };
/** The protocol's grace beyond the ping interval before a silent server counts as gone. */
const PING_GRACE_MS = 10_000;
/** Refresh a token this long before it expires (or halfway through a shorter remaining life). */
const REFRESH_LEAD_MS = 30_000;
const APP_CODE = 0;
/** The longest delay timers accept, ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A connection that stayed up this long resets the reconnect backoff, ms. */
const STABLE_CONNECTION_MS = 5_000;

export class Herald extends Emitter<ClientEvents> {
  readonly url: string;
  readonly #options: HeraldOptions;
  readonly #timeoutMs: number;
  #state: ClientState = 'disconnected';
  #transport: Transport | undefined;
  #clientId = '';
  readonly #subscriptions = new Map<string, Subscription<never>>();
  readonly #calls = new Map<number, PendingCall>();
  #nextId = 1;
  /** Commands queued in this tick: they leave as one frame. */
  #outbox: string[] = [];
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  #pingLimitMs = 0;
  /** When the current connection was established; undefined while not connected. */
  #connectedAt: number | undefined;
  #lastHeard = 0;
  #token: string | undefined;
  readonly #serverSubscriptions = new ServerSubscriptions({
    subscribed: (context) => this.emit('subscribed', context),
    publication: (publication) => this.emit('publication', publication),
    unsubscribed: (context) => this.emit('unsubscribed', context),
  });
  /** Whether `connect` went out on the current transport: later commands may follow it. */
  #connectSent = false;
  readonly #transportNames: readonly TransportName[];
  /** The transport to try next, while none has connected yet. */
  #transportIndex = 0;
  /** The transport that connected first: kept for every reconnect. */
  #workingTransport: TransportName | undefined;

  constructor(url: string, options: HeraldOptions = {}) {
    super();
    this.url = url;
    this.#options = options;
    this.#timeoutMs = options.timeout ?? DEFAULTS.timeout;
    this.#token = options.token;
    this.#transportNames = (options.transports ?? ['websocket', 'sse']).filter((name) =>
      name === 'websocket'
        ? (options.websocket ?? globalThis.WebSocket) !== undefined
        : (options.eventsource ?? globalThis.EventSource) !== undefined &&
          (options.fetch ?? globalThis.fetch) !== undefined,
    );
    if (this.#transportNames.length === 0) {
      throw new StateError('no transport available: pass `websocket` (or `eventsource`) in the options');
    }
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The id the server gave this connection ("" until connected). */
  get clientId(): string {
    return this.#clientId;
  }

  /** Connects, and keeps reconnecting until `disconnect()` or a terminal close. */
  connect(): void {
    if (this.#state !== 'disconnected') return;
    this.#setState('connecting');
    this.emit('connecting', { code: APP_CODE, reason: 'connect called' });
    globalThis.addEventListener?.('online', this.#onOnline);
    void this.#open();
  }

  /** Closes the connection and stops reconnecting. Subscriptions stay, and resume on `connect()`. */
  disconnect(): void {
    this.#stop(APP_CODE, 'disconnect called');
  }

  /** Resolves once connected; rejects after `timeoutMs` or if the client stops first. */
  ready(timeoutMs = this.#timeoutMs): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    if (this.#state === 'disconnected') return Promise.reject(new StateError('the client is disconnected'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        offConnected();
        offDisconnected();
        reject(new TimeoutError('connecting'));
      }, timeoutMs);
      const offConnected = this.once('connected', () => {
        clearTimeout(timer);
        offDisconnected();
        resolve();
      });
      const offDisconnected = this.once('disconnected', ({ reason }) => {
        clearTimeout(timer);
        offConnected();
        reject(new ConnectionClosedError(ClientErrorCode.CANCELLED, `disconnected: ${reason}`));
      });
    });
  }

  /** A subscription to `channel`; call `subscribe()` on it. One per channel. */
  newSubscription<T = unknown>(channel: string, options: SubscriptionOptions = {}): Subscription<T> {
    if (this.#subscriptions.has(channel)) throw new StateError(`a subscription to ${channel} already exists`);
    const subscription = new Subscription<T>(this.#subscriptionHost, channel, options);
    this.#subscriptions.set(channel, subscription as unknown as Subscription<never>);
    return subscription;
  }

  /** The subscription to `channel`, if one was created. */
  getSubscription<T = unknown>(channel: string): Subscription<T> | undefined {
    return this.#subscriptions.get(channel) as unknown as Subscription<T> | undefined;
  }

  /** Unsubscribes and forgets a subscription. */
  removeSubscription(subscription: Subscription<never> | Subscription<unknown>): void {
    subscription.unsubscribe();
    if (this.#subscriptions.get(subscription.channel) === subscription) {
      this.#subscriptions.delete(subscription.channel);
    }
  }

  /** Publishes `data` to a channel (the namespace must allow client publishing). */
  publish(channel: string, data: unknown): Promise<PublishResult> {
    return this.#callWhenConnected('publish', { channel, data: data as never });
  }

  /** Reads a channel's history. */
  history(channel: string, options: Omit<HistoryRequest, 'channel'> = {}): Promise<HistoryResult> {
    return this.#callWhenConnected('history', { channel, ...options });
  }

  /** A page of the clients subscribed to a channel on every node (the namespace must keep presence). */
  presence(channel: string, options: Omit<PresenceRequest, 'channel'> = {}): Promise<PresenceResult> {
    return this.#callWhenConnected('presence', { channel, ...options });
  }

  /** How many clients, and distinct users, are subscribed to a channel on every node. */
  presenceStats(channel: string): Promise<PresenceStatsResult> {
    return this.#callWhenConnected('presence_stats', { channel });
  }

  // ---- Connection lifecycle ----

  async #open(): Promise<void> {
    const getToken = this.#options.getToken;
    if (getToken !== undefined) {
      try {
        this.#token = await getToken();
      } catch (err) {
        const error = new HeraldError(ClientErrorCode.TOKEN_UNAVAILABLE, 'getToken failed', true, {
          cause: err,
        });
        this.emit('error', { error, during: 'connect' });
        if (this.#state === 'connecting') this.#scheduleReconnect();
        return;
      }
    }
    if (this.#state !== 'connecting' || this.#transport !== undefined) return;
    let transport: Transport;
    try {
      transport = this.#openTransport(
        this.#workingTransport ?? (this.#transportNames[this.#transportIndex] as TransportName),
        {
          open: () => this.#onOpen(transport),
          frame: (text) => this.#onFrame(transport, text),
          close: (code, reason) => this.#onClose(transport, code, reason),
        },
      );
    } catch (err) {
      // A malformed URL, or a transport the environment refuses: report it and keep trying.
      const message = `cannot open a connection: ${err instanceof Error ? err.message : String(err)}`;
      this.emit('error', {
        error: new HeraldError(ClientErrorCode.PROTOCOL, message, true),
        during: 'connect',
      });
      this.#scheduleReconnect();
      return;
    }
    this.#transport = transport;
    this.#connectTimer = setTimeout(
      () => transport.close(DisconnectCode.CONNECT_TIMEOUT, 'connect timed out'),
      this.#timeoutMs,
    );
  }

  #openTransport(name: TransportName, events: TransportEvents): Transport {
    const options = this.#options;
    if (name === 'websocket') {
      return openWebSocket(
        this.url,
        options.websocket ?? (globalThis.WebSocket as unknown as WebSocketConstructor),
        events,
      );
    }
    return openSse(
      options.sseUrl ?? sseUrlOf(this.url),
      options.eventsource ?? (globalThis.EventSource as unknown as EventSourceConstructor),
      options.fetch ?? (globalThis.fetch.bind(globalThis) as unknown as FetchFunction),
      events,
    );
  }

  #onOpen(transport: Transport): void {
    if (transport !== this.#transport) return;
    const { name, version } = this.#options;
    const subs = this.#serverSubscriptions.takeSubs();
    const params = {
      ...(this.#token === undefined || this.#token === '' ? {} : { token: this.#token }),
      ...(name === undefined ? {} : { name }),
      ...(version === undefined ? {} : { version }),
      ...(subs === undefined ? {} : { subs }),
    };
    this.#request(
      'connect',
      params,
      (result) => this.#onConnected(transport, result),
      (error: HeraldError) => {
        if (transport !== this.#transport) return;
        this.emit('error', { error, during: 'connect' });
        // The server closes the connection after a failed connect; its close code decides what follows.
      },
    );
    this.#connectSent = true;
    // In the same frame as connect: every subscription waiting for the connection.
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.state === 'subscribing') this.#sendSubscribe(subscription, transport);
    }
  }

  #onConnected(transport: Transport, result: ConnectResult): void {
    if (transport !== this.#transport) return;
    clearTimeout(this.#connectTimer);
    this.#connectedAt = Date.now();
    this.#workingTransport = transport.name;
    this.#serverSubscriptions.connected();
    this.#clientId = result.client;
    this.#pingLimitMs = result.ping * 1000 + PING_GRACE_MS;
    this.#watchPings();
    this.#scheduleRefresh(result.expires);
    this.#setState('connected');
    this.emit('connected', { client: result.client, version: result.version, transport: transport.name });
  }

  #onClose(transport: Transport, code: number, reason: string): void {
    if (transport !== this.#transport) return;
    this.#transport = undefined;
    this.#connectSent = false;
    // Backoff starts over only after a connection that lasted: a server that accepts and drops at
    // once (overloaded, misconfigured) must not be hammered every few hundred milliseconds.
    if (this.#connectedAt !== undefined && Date.now() - this.#connectedAt >= STABLE_CONNECTION_MS) {
      this.#attempt = 0;
    }
    this.#connectedAt = undefined;
    this.#clientId = '';
    this.#clearConnectionTimers();
    this.#failCalls(
      new ConnectionClosedError(
        ClientErrorCode.CONNECTION_CLOSED,
        `connection closed: ${reason || code}`,
        true,
      ),
    );
    for (const subscription of this.#subscriptions.values()) subscription.onConnectionLost(code, reason);
    // Without getToken, an expired token cannot be replaced: reconnecting would fail the same way.
    const canRecover = code !== DisconnectCode.TOKEN_EXPIRED || this.#options.getToken !== undefined;
    if (this.#state === 'disconnected') return;
    if (!shouldReconnect(code) || !canRecover) {
      this.#stop(code, reason);
      return;
    }
    if (this.#state === 'connected') {
      this.#setState('connecting');
      this.emit('connecting', { code, reason });
    }
    // No transport has connected yet: try the next one at once, and back off after a full round.
    if (this.#workingTransport === undefined) {
      this.#transportIndex = (this.#transportIndex + 1) % this.#transportNames.length;
      if (this.#transportIndex !== 0) {
        void this.#open();
        return;
      }
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    clearTimeout(this.#reconnectTimer);
    const delay = backoffDelay(this.#attempt++, {
      minDelayMs: this.#options.minReconnectDelay ?? DEFAULTS.minReconnectDelay,
      maxDelayMs: this.#options.maxReconnectDelay ?? DEFAULTS.maxReconnectDelay,
    });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#open();
    }, delay);
  }

  /** The browser is back online: a reconnect waiting for its backoff goes now. */
  readonly #onOnline = (): void => {
    if (this.#state !== 'connecting' || this.#reconnectTimer === undefined) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    void this.#open();
  };

  #stop(code: number, reason: string): void {
    if (this.#state === 'disconnected') return;
    globalThis.removeEventListener?.('online', this.#onOnline);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#setState('disconnected');
    const transport = this.#transport;
    if (transport !== undefined) transport.close(code, reason);
    this.#failCalls(new ConnectionClosedError(ClientErrorCode.CANCELLED, `disconnected: ${reason}`));
    this.#outbox = [];
    this.#attempt = 0;
    this.emit('disconnected', { code, reason });
  }

  /** Considers the connection dead when the server is silent for longer than its pings allow. */
  #watchPings(): void {
    this.#lastHeard = Date.now();
    const check = () => {
      const silentFor = Date.now() - this.#lastHeard;
      if (silentFor >= this.#pingLimitMs) {
        this.#transport?.close(DisconnectCode.NO_PONG, 'no ping from the server');
      } else {
        this.#pingTimer = setTimeout(check, this.#pingLimitMs - silentFor);
      }
    };
    this.#pingTimer = setTimeout(check, this.#pingLimitMs);
  }

  #scheduleRefresh(expires: number | undefined): void {
    clearTimeout(this.#refreshTimer);
    const getToken = this.#options.getToken;
    if (expires === undefined || getToken === undefined) return;
    const remaining = expires * 1000 - Date.now();
    const delay = Math.max(0, remaining - Math.min(REFRESH_LEAD_MS, remaining / 2));
    // Timers cannot wait longer than about 24.8 days (they would fire at once): wait in steps.
    if (delay > MAX_TIMER_MS) {
      this.#refreshTimer = setTimeout(() => this.#scheduleRefresh(expires), MAX_TIMER_MS);
      return;
    }
    this.#refreshTimer = setTimeout(() => void this.#refresh(getToken), delay);
  }

  async #refresh(getToken: () => Promise<string>): Promise<void> {
    const transport = this.#transport;
    try {
      const token = await getToken();
      if (transport !== this.#transport || this.#state !== 'connected') return;
      this.#token = token;
      const result = await this.#call('refresh', { token });
      this.#scheduleRefresh(result.expires);
    } catch (err) {
      if (transport !== this.#transport) return;
      const error =
        err instanceof HeraldError
          ? err
          : new HeraldError(ClientErrorCode.TOKEN_UNAVAILABLE, 'getToken failed', true, { cause: err });
      this.emit('error', { error, during: 'refresh' });
      // Try again shortly; if the token runs out first, the server closes with 3003 and the
      // reconnect asks getToken again.
      if (error.temporary) this.#refreshTimer = setTimeout(() => void this.#refresh(getToken), 5_000);
    }
  }

  #clearConnectionTimers(): void {
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#pingTimer);
  }

  // ---- Frames ----

  #onFrame(transport: Transport, text: string): void {
    if (transport !== this.#transport) return;
    this.#lastHeard = Date.now();
    for (const line of splitFrame(text)) {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        transport.close(DisconnectCode.RECONNECT, 'the server sent a message that is not JSON');
        return;
      }
      if (!this.#onMessage(transport, message)) return;
    }
  }

  /** Handles one message; false when it closed the connection. */
  #onMessage(transport: Transport, message: Record<string, unknown>): boolean {
    if ('push' in message) return this.#onPush(transport, message['push'] as Record<string, unknown>);
    if ('ping' in message) {
      this.#send('{"pong":{}}');
      return true;
    }
    const reply = message as ReplyFrame;
    if (reply.id === undefined) {
      const error =
        'error' in reply ? reply.error : { code: ClientErrorCode.PROTOCOL, message: 'unexpected message' };
      this.emit('error', { error: new ServerError(error.code, error.message), during: 'transport' });
      return true;
    }
    const call = this.#calls.get(reply.id);
    if (call === undefined) return true;
    this.#calls.delete(reply.id);
    clearTimeout(call.timer);
    if ('error' in reply)
      call.reject(new ServerError(reply.error.code, reply.error.message, reply.error.temporary === true));
    else call.resolve(reply.result);
    return true;
  }

  #onPush(transport: Transport, push: Record<string, unknown>): boolean {
    const channel = push['channel'] as string;
    const subscription = this.#subscriptions.get(channel);
    if (subscription === undefined) return this.#onServerPush(transport, channel, push);
    if ('pub' in push) {
      if (subscription.onPublication(push['pub'] as PublicationFrame)) return true;
      // The stream broke (a gap the server did not catch): reconnect and recover from the last position.
      transport.close(DisconnectCode.INSUFFICIENT_STATE, 'publication out of order');
      return false;
    }
    if ('join' in push) subscription.onPresenceEvent('join', push['join'] as ClientInfo);
    else if ('leave' in push) subscription.onPresenceEvent('leave', push['leave'] as ClientInfo);
    const ended = push['unsubscribe'] as { code: number; reason: string } | undefined;
    if (ended !== undefined) subscription.onServerUnsubscribe(ended.code, ended.reason);
    return true;
  }

  /** A push on a channel the app has no subscription object for: a server-side subscription. */
  #onServerPush(transport: Transport, channel: string, push: Record<string, unknown>): boolean {
    const server = this.#serverSubscriptions;
    if ('subscribe' in push) server.onSubscribe(channel, push['subscribe'] as SubscribeResult);
    else if ('pub' in push && !server.onPublication(channel, push['pub'] as PublicationFrame)) {
      transport.close(DisconnectCode.INSUFFICIENT_STATE, 'publication out of order');
      return false;
    } else if ('unsubscribe' in push) {
      const { code, reason } = push['unsubscribe'] as { code: number; reason: string };
      server.onUnsubscribe(channel, code, reason);
    }
    return true;
  }

  // ---- Commands ----

  /** Sends a command on the current connection; rejects if there is none. */
  #call<M extends Method>(method: M, params: Commands[M][0]): Promise<Commands[M][1]> {
    return new Promise((resolve, reject) => this.#request(method, params, resolve, reject));
  }

  /**
   * Sends a command; `onResult` or `onError` runs exactly once. They run synchronously as the reply
   * is read, before the rest of its frame: a subscribe reply must take effect before the pushes that
   * follow it in the same frame.
   */
  #request<M extends Method>(
    method: M,
    params: Commands[M][0],
    onResult: (result: Commands[M][1]) => void,
    onError: (error: HeraldError) => void,
  ): void {
    if (this.#transport === undefined) {
      onError(new ConnectionClosedError(ClientErrorCode.CONNECTION_CLOSED, 'not connected', true));
      return;
    }
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#calls.delete(id);
      onError(new TimeoutError(method));
    }, this.#timeoutMs);
    this.#calls.set(id, { resolve: onResult as (result: unknown) => void, reject: onError, timer });
    this.#send(`{"id":${id},${JSON.stringify(method)}:${JSON.stringify(params)}}`);
  }

  /** Waits for the connection (up to the timeout) if the client is connecting, then calls. */
  async #callWhenConnected<M extends Method>(method: M, params: Commands[M][0]): Promise<Commands[M][1]> {
    if (this.#state === 'disconnected')
      throw new StateError('the client is disconnected: call connect() first');
    if (this.#state === 'connecting') await this.ready();
    return this.#call(method, params);
  }

  /** Queues a message; everything queued in this tick leaves as one frame. */
  #send(message: string): void {
    this.#outbox.push(message);
    if (this.#outbox.length === 1) queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    const messages = this.#outbox;
    this.#outbox = [];
    if (messages.length > 0) this.#transport?.send(messages.join('\n'));
  };

  #failCalls(error: HeraldError): void {
    for (const call of this.#calls.values()) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    this.#calls.clear();
    this.#outbox = [];
  }

  // ---- Subscriptions ----

  readonly #subscriptionHost = {
    wantSubscribe: (subscription: Subscription<never>) => {
      const transport = this.#transport;
      if (this.#connectSent && transport !== undefined) this.#sendSubscribe(subscription, transport);
    },
    wantUnsubscribe: (subscription: Subscription<never>) => {
      if (!this.#connectSent) return;
      // Nothing for the app to handle: a failure means the connection went, and with it the subscription.
      this.#call('unsubscribe', { channel: subscription.channel }).catch(() => undefined);
    },
    publish: (channel: string, data: unknown) => this.publish(channel, data),
    history: (channel: string, options: Omit<HistoryRequest, 'channel'>) => this.history(channel, options),
    presence: (channel: string, options: Omit<PresenceRequest, 'channel'>) => this.presence(channel, options),
    presenceStats: (channel: string) => this.presenceStats(channel),
    timeoutMs: () => this.#timeoutMs,
  };

  #sendSubscribe(subscription: Subscription<never>, transport: Transport): void {
    const generation = subscription.generation;
    const retryDelay = (attempt: number) =>
      backoffDelay(attempt, {
        minDelayMs: this.#options.minReconnectDelay ?? DEFAULTS.minReconnectDelay,
        maxDelayMs: this.#options.maxReconnectDelay ?? DEFAULTS.maxReconnectDelay,
      });
    const send = (token: string | undefined) => {
      if (transport !== this.#transport || generation !== subscription.generation) return;
      const params = { ...subscription.subscribeParams(), ...(token === undefined ? {} : { token }) };
      const wasRecovering = params.since !== undefined;
      this.#request(
        'subscribe',
        params,
        (result) => {
          if (transport === this.#transport) subscription.onSubscribed(result, wasRecovering, generation);
        },
        (error: HeraldError) => {
          // A lost connection resubscribes on the next one; other failures are the subscription's.
          if (transport !== this.#transport || error instanceof ConnectionClosedError) return;
          if (error instanceof TimeoutError) {
            // The server may have subscribed after all: a retry would be refused (110) while it
            // pushes to a subscription the client gave up on. Reconnecting starts both sides afresh.
            transport.close(DisconnectCode.RECONNECT, 'subscribe timed out');
            return;
          }
          subscription.onSubscribeError(error, retryDelay, generation);
        },
      );
    };
    const token = subscription.channelToken();
    if (typeof token !== 'object') {
      send(token);
      return;
    }
    token.then(send, (err: unknown) => {
      const error = new HeraldError(ClientErrorCode.TOKEN_UNAVAILABLE, 'getToken failed', true, {
        cause: err,
      });
      subscription.onSubscribeError(error, retryDelay, generation);
    });
  }

  /** The one place the state changes. */
  #setState(newState: ClientState): void {
    const oldState = this.#state;
    if (oldState === newState) return;
    this.#state = newState;
    this.emit('state', { oldState, newState });
  }
}
