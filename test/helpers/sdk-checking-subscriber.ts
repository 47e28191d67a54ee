/**
 * The client SDK (`Herald` from packages/client, over `ws`) as a checking subscriber. Unlike
 * `CheckingSubscriber` (checking-subscriber.ts), which drives the protocol itself, it leaves reconnecting and recovering to
 * the SDK, as an app does, and checks what the app receives the same way: per channel, offsets grow by
 * exactly one within an epoch, nothing arrives twice, and continuity breaks only where the SDK said
 * `recovered: false`. {@link checkDelivery} and {@link finishRun} (delivery-check.ts) accept it.
 */
import { WebSocket } from 'ws';
import {
  DisconnectCode,
  Herald,
  type HeraldOptions,
  type Publication,
} from '../../packages/client/src/index.ts';
import type {
  Anomaly,
  CloseRecord,
  NotRecovered,
  Position,
  Receipt,
  SubscriberReport,
} from './checking-subscriber.ts';
import { waitFor } from './herald.ts';

export interface SdkCheckingSubscriberOptions {
  /** The WebSocket URL (of a node, or of a load balancer in front of several). */
  readonly url: string;
  readonly channels: readonly string[];
  readonly getToken: () => Promise<string>;
  readonly name?: string;
  /** The SDK's reconnect delay bounds, ms. Default 50 and 300, to keep tests short. */
  readonly minReconnectDelay?: number;
  readonly maxReconnectDelay?: number;
  /** The loopback source address to connect from (127.0.0.x), to spread many clients. Default: the system's. */
  readonly localAddress?: string;
}

/** `ws`'s WebSocket, connecting from `localAddress`. */
function fromAddress(localAddress: string): NonNullable<HeraldOptions['websocket']> {
  return class extends WebSocket {
    constructor(url: string, protocols: string | string[]) {
      super(url, protocols, { localAddress });
    }
  };
}

interface ChannelState {
  position: Position | undefined;
  readonly seen: Set<string>;
}

let count = 0;

/** See the file comment. */
export class SdkCheckingSubscriber {
  readonly name: string;
  readonly client: Herald;
  readonly #channels = new Map<string, ChannelState>();
  readonly #receipts: Receipt[] = [];
  readonly #anomalies: Anomaly[] = [];
  readonly #notRecovered: NotRecovered[] = [];
  readonly #closes: CloseRecord[] = [];
  readonly #setupErrors: string[] = [];
  #recovered = 0;
  #connection = -1;

  private constructor(options: SdkCheckingSubscriberOptions) {
    count += 1;
    this.name = options.name ?? `sdk-subscriber-${count}`;
    this.client = new Herald(options.url, {
      websocket: options.localAddress === undefined ? WebSocket : fromAddress(options.localAddress),
      getToken: options.getToken,
      minReconnectDelay: options.minReconnectDelay ?? 50,
      maxReconnectDelay: options.maxReconnectDelay ?? 300,
      timeout: 5000,
    });
    this.client.on('connected', () => (this.#connection += 1));
    this.client.on('connecting', ({ code, reason }) => {
      if (code !== 0) this.#closes.push({ url: options.url, code, reason, at: Date.now() });
    });
    this.client.on('error', ({ error, during }) => this.#setupErrors.push(`${during}: ${error.message}`));
    for (const channel of options.channels) this.#follow(channel);
  }

  /** Connects and subscribes every channel; resolves once all are subscribed. */
  static async start(
    options: SdkCheckingSubscriberOptions,
    timeoutMs = 10_000,
  ): Promise<SdkCheckingSubscriber> {
    const subscriber = new SdkCheckingSubscriber(options);
    subscriber.client.connect();
    await waitFor(() => subscriber.subscribed, timeoutMs, `${subscriber.name} to subscribe`);
    return subscriber;
  }

  /** Whether the client is connected and holds every subscription. */
  get subscribed(): boolean {
    return (
      this.client.state === 'connected' &&
      [...this.#channels.keys()].every(
        (channel) => this.client.getSubscription(channel)?.state === 'subscribed',
      )
    );
  }

  /** The server's id of the current connection ("" while not connected). */
  get clientId(): string {
    return this.client.clientId;
  }

  get channels(): readonly string[] {
    return [...this.#channels.keys()];
  }

  receipts(channel?: string): readonly Receipt[] {
    return channel === undefined ? this.#receipts : this.#receipts.filter((r) => r.channel === channel);
  }

  notRecovered(channel?: string): readonly NotRecovered[] {
    return channel === undefined
      ? this.#notRecovered
      : this.#notRecovered.filter((event) => event.channel === channel);
  }

  report(): SubscriberReport {
    const of = (kind: Anomaly['kind']) => this.#anomalies.filter((anomaly) => anomaly.kind === kind);
    return {
      name: this.name,
      received: this.#receipts.length,
      duplicates: of('duplicate'),
      outOfOrder: of('out-of-order'),
      gaps: of('gap'),
      notRecovered: [...this.#notRecovered],
      recovered: this.#recovered,
      closes: [...this.#closes],
      insufficientState: this.#closes.filter((close) => close.code === DisconnectCode.INSUFFICIENT_STATE)
        .length,
      reconnects: Math.max(0, this.#connection),
      setupErrors: [...this.#setupErrors],
    };
  }

  stop(): void {
    this.client.disconnect();
  }

  #follow(channel: string): void {
    const state: ChannelState = { position: undefined, seen: new Set() };
    this.#channels.set(channel, state);
    const subscription = this.client.newSubscription(channel);
    subscription.on('publication', (pub) =>
      // Publications delivered while (re)subscribing came with the subscribe reply: recovered ones.
      this.#accept(channel, state, pub, subscription.state === 'subscribing' ? 'recovery' : 'live'),
    );
    subscription.on('subscribed', ({ wasRecovering, recovered, position }) => {
      if (!wasRecovering) {
        state.position = position;
        return;
      }
      if (recovered) {
        this.#recovered += 1;
        // The recovered publications were checked as they came: they must reach the reply's position.
        const last = state.position;
        if (position !== undefined && (last?.offset !== position.offset || last.epoch !== position.epoch)) {
          const at = Date.now();
          this.#anomalies.push({
            kind: 'gap',
            channel,
            after: last,
            got: position,
            connection: this.#connection,
            at,
          });
          state.position = position;
        }
        return;
      }
      const since = state.position ?? { offset: 0, epoch: '' };
      const current = position ?? since;
      this.#notRecovered.push({ channel, since, current, connection: this.#connection, at: Date.now() });
      state.position = position;
    });
    subscription.on('error', ({ error }) => this.#setupErrors.push(`${channel}: ${error.message}`));
    subscription.subscribe();
  }

  /** Checks one publication against the channel's last position, then records it. */
  #accept(channel: string, state: ChannelState, pub: Publication<unknown>, via: Receipt['via']): void {
    if (pub.offset === undefined || pub.epoch === undefined) return; // a channel without history
    const got = { offset: pub.offset, epoch: pub.epoch };
    const id = idOf(pub.data);
    const key = `${got.epoch}:${got.offset}:${id ?? ''}`;
    const at = Date.now();
    if (state.seen.has(key)) {
      this.#anomalies.push({
        kind: 'duplicate',
        channel,
        after: undefined,
        got,
        connection: this.#connection,
        at,
      });
      return;
    }
    const last = state.position;
    if (last !== undefined) {
      const kind =
        got.epoch !== last.epoch || got.offset > last.offset + 1
          ? 'gap'
          : got.offset <= last.offset
            ? 'out-of-order'
            : undefined;
      if (kind !== undefined)
        this.#anomalies.push({ kind, channel, after: last, got, connection: this.#connection, at });
    }
    state.position = got;
    state.seen.add(key);
    this.#receipts.push({ channel, ...got, id, via, connection: this.#connection, at });
  }
}

/** The checking publisher's id in a publication's data, if it has one. */
function idOf(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const id = (data as Record<string, unknown>)['id'];
  return typeof id === 'string' ? id : undefined;
}
