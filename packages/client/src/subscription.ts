/**
 * One channel the app wants to receive. Its state machine — unsubscribed → subscribing → subscribed —
 * changes in one place ({@link Subscription.#setState}); the client drives it as the connection comes
 * and goes. The subscription remembers the stream position of the last publication it delivered, so
 * that after any reconnect it resubscribes from there and gets what it missed, each publication once
 * and in order, or learns that it cannot (`recovered: false`) and that the app must resync.
 */
import type {
  ClientInfo,
  HistoryRequest,
  HistoryResult,
  JsonValue,
  PresenceRequest,
  PresenceResult,
  PresenceStatsResult,
  PublicationFrame,
  PublishResult,
  StreamPosition,
  SubscribeResult,
} from '@herald/protocol';
import { Emitter } from './emitter.ts';
import { StateError, TimeoutError, type HeraldError } from './errors.ts';

export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';

/** A publication as the app sees it; `data` is typed by the subscription's type parameter. */
export interface Publication<T = JsonValue> {
  readonly channel: string;
  readonly data: T;
  /** Position in the channel's stream; absent where the channel keeps no history. */
  readonly offset?: number;
  readonly epoch?: string;
  /** The publishing client, when a client (not the server API) published. */
  readonly info?: ClientInfo;
  /** When the server accepted it, ms since the Unix epoch. */
  readonly time: number;
}

export interface SubscriptionEvents<T> {
  state: { readonly oldState: SubscriptionState; readonly newState: SubscriptionState };
  /** Subscribing, or resubscribing after the connection was lost (`code`/`reason` say why). */
  subscribing: { readonly channel: string; readonly code: number; readonly reason: string };
  subscribed: {
    readonly channel: string;
    /** Whether the channel keeps history, so the subscription can recover after reconnects. */
    readonly recoverable: boolean;
    /** The stream position right after subscribing (and delivering what was recovered). */
    readonly position: StreamPosition | undefined;
    /** Whether this subscribe tried to recover from an earlier position. */
    readonly wasRecovering: boolean;
    /**
     * When `wasRecovering`: whether every missed publication was delivered before this event. False
     * means some are gone from the history: the app should reload its state by other means.
     */
    readonly recovered: boolean;
  };
  /** The subscription ended: `unsubscribe()` (code 0), the server refused it, or the server removed it. */
  unsubscribed: { readonly channel: string; readonly code: number; readonly reason: string };
  publication: Publication<T>;
  /** A client subscribed to the channel (where the namespace enables join and leave events). */
  join: {
    readonly channel: string;
    readonly client: string;
    readonly user: string;
    readonly info?: JsonValue;
  };
  /** A client unsubscribed from the channel or disconnected. */
  leave: {
    readonly channel: string;
    readonly client: string;
    readonly user: string;
    readonly info?: JsonValue;
  };
  /** A subscribe attempt failed; temporary failures are retried. */
  error: { readonly channel: string; readonly error: HeraldError };
}

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  /** The subscription moved to `subscribing` and wants a subscribe sent when the client is connected. */
  wantSubscribe(subscription: Subscription<never>): void;
  /** The subscription was unsubscribed by the app. */
  wantUnsubscribe(subscription: Subscription<never>): void;
  publish(channel: string, data: unknown): Promise<PublishResult>;
  history(channel: string, options: Omit<HistoryRequest, 'channel'>): Promise<HistoryResult>;
  presence(channel: string, options: Omit<PresenceRequest, 'channel'>): Promise<PresenceResult>;
  presenceStats(channel: string): Promise<PresenceStatsResult>;
  timeoutMs(): number;
}

export interface SubscriptionOptions {
  /**
   * Start from this position instead of the present: the first subscribe recovers what was published
   * after it (for example a position the app saved before a page reload).
   */
  readonly since?: StreamPosition;
  /** A channel token, for channels in private namespaces. Use `getToken` for tokens that expire. */
  readonly token?: string;
  /** Called for a channel token before every subscribe (and resubscribe) of a private channel. */
  readonly getToken?: (context: { readonly channel: string }) => Promise<string>;
}

/** Reasons with code 0: changes the app asked for. */
const APP_CODE = 0;

export class Subscription<T = JsonValue> extends Emitter<SubscriptionEvents<T>> {
  readonly channel: string;
  #state: SubscriptionState = 'unsubscribed';
  readonly #host: SubscriptionHost;
  /** The position of the last publication delivered (or of the subscribe reply). */
  #position: StreamPosition | undefined;
  #recoverable = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  /** Counts subscribe cycles, so that a late reply to an abandoned subscribe is not taken for the current one. */
  #generation = 0;
  readonly #token: string | undefined;
  readonly #getToken: SubscriptionOptions['getToken'];

  /** @internal Created by `Herald.newSubscription`. */
  constructor(host: SubscriptionHost, channel: string, options: SubscriptionOptions = {}) {
    super();
    this.#host = host;
    this.channel = channel;
    this.#token = options.token;
    this.#getToken = options.getToken;
    if (options.since !== undefined) {
      this.#position = { ...options.since };
      this.#recoverable = true;
    }
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** The position of the last publication delivered; save it to resume from there later. */
  get position(): StreamPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position };
  }

  /** Starts receiving the channel (and keeps doing so across reconnects) until `unsubscribe()`. */
  subscribe(): void {
    if (this.#state !== 'unsubscribed') return;
    this.#setState('subscribing');
    this.emit('subscribing', { channel: this.channel, code: APP_CODE, reason: 'subscribe called' });
    this.#host.wantSubscribe(this as unknown as Subscription<never>);
  }

  /** Stops receiving the channel. */
  unsubscribe(): void {
    if (this.#state === 'unsubscribed') return;
    this.#clearRetry();
    this.#setState('unsubscribed');
    this.#host.wantUnsubscribe(this as unknown as Subscription<never>);
    this.emit('unsubscribed', { channel: this.channel, code: APP_CODE, reason: 'unsubscribe called' });
  }

  /** Resolves once subscribed; rejects after the client's timeout, or if the subscription ends first. */
  ready(timeoutMs = this.#host.timeoutMs()): Promise<void> {
    if (this.#state === 'subscribed') return Promise.resolve();
    if (this.#state === 'unsubscribed')
      return Promise.reject(new StateError(`not subscribing to ${this.channel}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        offSubscribed();
        offUnsubscribed();
        reject(new TimeoutError(`subscribing to ${this.channel}`));
      }, timeoutMs);
      const offSubscribed = this.once('subscribed', () => {
        clearTimeout(timer);
        offUnsubscribed();
        resolve();
      });
      const offUnsubscribed = this.once('unsubscribed', ({ reason }) => {
        clearTimeout(timer);
        offSubscribed();
        reject(new StateError(`subscription to ${this.channel} ended: ${reason}`));
      });
    });
  }

  /** Publishes to this subscription's channel (the namespace must allow client publishing). */
  publish(data: T): Promise<PublishResult> {
    return this.#host.publish(this.channel, data);
  }

  /** Reads the channel's history. */
  history(options: Omit<HistoryRequest, 'channel'> = {}): Promise<HistoryResult> {
    return this.#host.history(this.channel, options);
  }

  /** A page of the clients subscribed to the channel on every node. */
  presence(options: Omit<PresenceRequest, 'channel'> = {}): Promise<PresenceResult> {
    return this.#host.presence(this.channel, options);
  }

  /** How many clients, and distinct users, are subscribed to the channel on every node. */
  presenceStats(): Promise<PresenceStatsResult> {
    return this.#host.presenceStats(this.channel);
  }

  // ---- Driven by the client ----

  /** @internal The subscribe command to send now: with `since` when the position is known. */
  subscribeParams(): { channel: string; since?: StreamPosition; token?: string } {
    return this.#recoverable && this.#position !== undefined
      ? { channel: this.channel, since: { ...this.#position } }
      : { channel: this.channel };
  }

  /** @internal The channel token for the next subscribe, if the subscription has one. */
  channelToken(): string | Promise<string> | undefined {
    return this.#getToken === undefined ? this.#token : this.#getToken({ channel: this.channel });
  }

  /** @internal The current subscribe cycle; pass it back with the reply. */
  get generation(): number {
    return this.#generation;
  }

  /** @internal The server's reply to a subscribe sent with {@link subscribeParams} in cycle `generation`. */
  onSubscribed(result: SubscribeResult, wasRecovering: boolean, generation: number): void {
    if (this.#state !== 'subscribing' || generation !== this.#generation) return;
    this.#retries = 0;
    this.#recoverable = result.recoverable;
    for (const publication of result.publications ?? []) this.#deliver(publication);
    if (result.offset !== undefined && result.epoch !== undefined) {
      this.#position = { offset: result.offset, epoch: result.epoch };
    }
    this.#setState('subscribed');
    this.emit('subscribed', {
      channel: this.channel,
      recoverable: result.recoverable,
      position: this.position,
      wasRecovering,
      recovered: wasRecovering && result.recovered === true,
    });
  }

  /** @internal A subscribe failed: temporary errors are retried after `retryDelayMs`, others end it. */
  onSubscribeError(error: HeraldError, retryDelayMs: (attempt: number) => number, generation: number): void {
    if (this.#state !== 'subscribing' || generation !== this.#generation) return;
    this.emit('error', { channel: this.channel, error });
    if (!error.temporary) {
      this.#setState('unsubscribed');
      this.emit('unsubscribed', { channel: this.channel, code: error.code, reason: error.message });
      return;
    }
    this.#clearRetry();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#state === 'subscribing') this.#host.wantSubscribe(this as unknown as Subscription<never>);
    }, retryDelayMs(this.#retries++));
  }

  /**
   * @internal A publication pushed for this channel. Returns false when it breaks the stream (another
   * epoch, or a skipped offset): the client then reconnects, and this subscription recovers.
   */
  onPublication(publication: PublicationFrame): boolean {
    if (this.#state !== 'subscribed') return true;
    const { offset, epoch } = publication;
    const position = this.#position;
    if (offset !== undefined && epoch !== undefined && position !== undefined && this.#recoverable) {
      if (epoch === position.epoch && offset <= position.offset) return true; // already delivered
      if (epoch !== position.epoch || offset !== position.offset + 1) return false;
    }
    this.#deliver(publication);
    return true;
  }

  /** @internal The connection was lost: resubscribe (with recovery) once the client reconnects. */
  onConnectionLost(code: number, reason: string): void {
    if (this.#state === 'subscribing') {
      // A retry waiting from the lost connection would follow the resubscribe of the next one.
      this.#clearRetry();
      this.#generation += 1;
      return;
    }
    if (this.#state !== 'subscribed') return;
    this.#setState('subscribing');
    this.emit('subscribing', { channel: this.channel, code, reason });
  }

  /** @internal A join or leave event on the channel. */
  onPresenceEvent(type: 'join' | 'leave', client: ClientInfo): void {
    if (this.#state !== 'subscribed') return;
    this.emit(type, { channel: this.channel, ...client });
  }

  /** @internal The server ended the subscription (a server-side unsubscribe). */
  onServerUnsubscribe(code: number, reason: string): void {
    if (this.#state === 'unsubscribed') return;
    this.#clearRetry();
    this.#setState('unsubscribed');
    this.emit('unsubscribed', { channel: this.channel, code, reason });
  }

  #deliver(publication: PublicationFrame): void {
    const { offset, epoch } = publication;
    if (offset !== undefined && epoch !== undefined) this.#position = { offset, epoch };
    this.emit('publication', { channel: this.channel, ...publication } as unknown as Publication<T>);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** The one place the state changes. */
  #setState(newState: SubscriptionState): void {
    const oldState = this.#state;
    if (oldState === newState) return;
    if (newState === 'subscribing') this.#generation += 1;
    this.#state = newState;
    this.emit('state', { oldState, newState });
  }
}
