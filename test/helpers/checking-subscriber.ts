/**
 * Checking clients for fault and chaos tests: they prove guarantee 2 ("no silent gaps") end to end.
 *
 * - {@link CheckingSubscriber} subscribes to channels on a Herald node, reconnects like a real client when
 *   the server tells it to (close codes 3000–3499, or a dropped connection, 1006), optionally to another
 *   node, and resubscribes each channel with `since` = the last position it received. It checks every
 *   publication as it arrives: per channel, offsets grow by exactly one within an epoch, nothing arrives
 *   twice, and continuity is only ever broken where the server said so (`recovered: false`).
 * - {@link CheckingPublisher} (checking-publisher.ts) publishes continuously through the HTTP API of one or more nodes and retries a
 *   failed publish with the same idempotency key, so a retry after an ambiguous failure (timeout, dropped
 *   connection, 5xx after Redis ran the script) cannot publish twice. It records every acknowledged
 *   publication: a 2xx answer means stored and sent (guarantee 3).
 * - {@link checkDelivery} (delivery-check.ts) ties them together: every acknowledged publication reached every subscriber
 *   exactly once, or the subscriber was told `recovered: false` at a point that covers it.
 *
 * Publications are identified by position and by content: the publisher's `data` is `{id, n}` where `id` is
 * the idempotency key, so a stream that reuses offsets for other publications (a failover that lost
 * writes) cannot pass for the original one. Meant for channels that keep history (positions are checked).
 *
 * ```ts
 * const subscriber = await CheckingSubscriber.start({ urls: [b.wsUrl, a.wsUrl], channels, token: () => b.token() });
 * const publisher = CheckingPublisher.start({ apiUrls: [a.url], apiKey: a.config.apiKey, channels });
 * // … the fault …
 * await publisher.stop();
 * const check = await waitForDelivery(publisher.acks, [subscriber]);
 * expect(check.problems, describeRun(check, publisher, [subscriber])).toEqual([]);
 * ```
 */
import { DisconnectCode, type PublicationFrame, type SubscribeResult } from '@herald/protocol';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { waitFor as waitUntil } from './herald.ts';

/** A position in a channel's stream. */
export interface Position {
  readonly offset: number;
  readonly epoch: string;
}

/** One publication as a subscriber received it. */
export interface Receipt {
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
  /** `data.id` when `data` is an object with a string `id` (the checking publisher's key); else undefined. */
  readonly id: string | undefined;
  /** `live` for a push, `recovery` for a publication in a subscribe reply. */
  readonly via: 'live' | 'recovery';
  /** The connection it came on: 0 for the first, one more per reconnect. */
  readonly connection: number;
  /** `Date.now()` on arrival. */
  readonly at: number;
}

/** Something a subscriber saw that breaks order or continuity. */
export interface Anomaly {
  /**
   * `duplicate`: the same publication (position and id) again. `out-of-order`: an offset not above the last
   * one in the same epoch (and not a duplicate). `gap`: a silent one — an offset jump or a new epoch that no
   * `recovered: false` announced, or a `recovered: true` reply whose publications stop short of its position.
   */
  readonly kind: 'duplicate' | 'out-of-order' | 'gap';
  readonly channel: string;
  /** The last position before it (undefined for a duplicate). */
  readonly after: Position | undefined;
  readonly got: Position;
  readonly connection: number;
  readonly at: number;
}

/** The server said `recovered: false`: continuity was lost between `since` and `current`. */
export interface NotRecovered {
  readonly channel: string;
  /** The last position the subscriber had received. */
  readonly since: Position;
  /** The channel's position in the reply; the stream continues right after it. */
  readonly current: Position;
  readonly connection: number;
  readonly at: number;
}

/** A closed connection. */
export interface CloseRecord {
  readonly url: string;
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

/** What a subscriber saw, for assertions and failure messages. */
export interface SubscriberReport {
  readonly name: string;
  readonly received: number;
  readonly duplicates: readonly Anomaly[];
  readonly outOfOrder: readonly Anomaly[];
  /** Silent gaps only; announced ones are in `notRecovered`. */
  readonly gaps: readonly Anomaly[];
  readonly notRecovered: readonly NotRecovered[];
  /** How many `recovered: true` resubscriptions. */
  readonly recovered: number;
  readonly closes: readonly CloseRecord[];
  /** How many closes with 3007 ("insufficient state"). */
  readonly insufficientState: number;
  readonly reconnects: number;
  /** Failed connection attempts (refused, connect or subscribe errors), as messages. */
  readonly setupErrors: readonly string[];
}

/** Options for {@link CheckingSubscriber.start}. */
export interface CheckingSubscriberOptions {
  /** WebSocket URLs (`ws://…/connection/websocket`) of the nodes; the first is connected first. */
  readonly urls: readonly string[];
  readonly channels: readonly string[];
  /** The `connect` token; a function is called at every connect (so it may mint a fresh one). */
  readonly token: string | (() => Promise<string>);
  /** Where to reconnect: the `same` URL, or the `next` one in `urls`, round robin. Default `next`. */
  readonly reconnectTo?: 'same' | 'next';
  /** Pause before every reconnect attempt, ms. Default 100. */
  readonly reconnectDelayMs?: number;
  /** For reports. Default `subscriber-<n>`. */
  readonly name?: string;
}

/** Whether a close code asks the client to reconnect and recover: 3000–3499, or a dropped connection. */
export function isReconnectCode(code: number): boolean {
  return (code >= 3000 && code < 3500) || code === 1006;
}

interface ChannelState {
  readonly channel: string;
  /** The last position received (or given by a subscribe reply); `since` of the next resubscribe. */
  position: Position | undefined;
  /** `epoch:offset:id` of every publication received, to find duplicates. */
  readonly seen: Set<string>;
  /** Pushes waiting while the channel's subscribe reply is not processed yet. */
  held: PublicationFrame[] | undefined;
}

let subscriberCount = 0;

/** A subscriber that reconnects, recovers and checks continuity; see the file comment. */
export class CheckingSubscriber {
  readonly name: string;
  readonly #options: CheckingSubscriberOptions;
  readonly #channels = new Map<string, ChannelState>();
  readonly #receipts: Receipt[] = [];
  readonly #anomalies: Anomaly[] = [];
  readonly #notRecovered: NotRecovered[] = [];
  readonly #closes: CloseRecord[] = [];
  readonly #setupErrors: string[] = [];
  #recovered = 0;
  #connection = -1;
  #urlIndex = 0;
  #client: ProtocolClient | undefined;
  #subscribed = false;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  private constructor(options: CheckingSubscriberOptions) {
    if (options.urls.length === 0) throw new Error('CheckingSubscriber needs at least one URL');
    subscriberCount += 1;
    this.name = options.name ?? `subscriber-${subscriberCount}`;
    this.#options = options;
    for (const channel of options.channels)
      this.#channels.set(channel, { channel, position: undefined, seen: new Set(), held: undefined });
  }

  /** Connects and subscribes every channel; resolves once the first connection is subscribed. */
  static async start(options: CheckingSubscriberOptions, timeoutMs = 10_000): Promise<CheckingSubscriber> {
    const subscriber = new CheckingSubscriber(options);
    subscriber.#loop = subscriber.#run();
    try {
      await waitUntil(() => subscriber.#subscribed, timeoutMs, `${subscriber.name} to subscribe`);
    } catch (err) {
      await subscriber.stop();
      throw new Error(`${(err as Error).message}: ${subscriber.#setupErrors.slice(-3).join('; ')}`, {
        cause: err,
      });
    }
    return subscriber;
  }

  /** Whether the current connection holds every subscription. */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  /** The last position received on a channel (where the next resubscribe starts). */
  position(channel: string): Position | undefined {
    return this.#channels.get(channel)?.position;
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

  /** Closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#client?.close();
    await this.#loop;
  }

  /** Connects, subscribes, waits for the close, and again while the close asks for a reconnect. */
  async #run(): Promise<void> {
    const delay = this.#options.reconnectDelayMs ?? 100;
    while (!this.#stopped) {
      const url = this.#options.urls[this.#urlIndex % this.#options.urls.length] ?? '';
      this.#connection += 1;
      const close = await this.#session(url);
      if (close !== undefined) {
        this.#closes.push(close);
        if (!isReconnectCode(close.code)) break;
      }
      if (this.#stopped) break;
      await sleep(delay);
      if ((this.#options.reconnectTo ?? 'next') === 'next') this.#urlIndex += 1;
    }
    this.#stopped = true;
  }

  /** One connection: its close, or undefined when it failed before it was subscribed (retry it). */
  async #session(url: string): Promise<CloseRecord | undefined> {
    let client: ProtocolClient | undefined;
    try {
      client = await ProtocolClient.open(url);
      this.#client = client;
      if (this.#stopped) client.close();
      const connection = this.#connection;
      client.onPublication((channel, pub) => this.#onPush(connection, channel, pub));
      const token = this.#options.token;
      await client.call('connect', { token: typeof token === 'string' ? token : await token() });
      await Promise.all(this.channels.map((channel) => this.#subscribe(client as ProtocolClient, channel)));
      this.#subscribed = true;
    } catch (err) {
      this.#setupErrors.push(`${url}: ${err instanceof Error ? err.message : String(err)}`);
      // Pushes held for a subscription whose reply never came are dropped: the next resubscribe recovers them.
      for (const state of this.#channels.values()) state.held = undefined;
      client?.ws.terminate();
      if (client !== undefined) await client.closed;
      return undefined;
    }
    const closed = await client.closed;
    this.#subscribed = false;
    return { url, code: closed.code, reason: closed.reason, at: Date.now() };
  }

  async #subscribe(client: ProtocolClient, channel: string): Promise<void> {
    const state = this.#state(channel);
    const since = state.position;
    state.held = [];
    const result = await client.call('subscribe', since === undefined ? { channel } : { channel, since });
    this.#onSubscribed(channel, since, result);
    this.#release(state);
  }

  /** Pushes that arrived with or before the reply were held: they follow the reply's publications. */
  #release(state: ChannelState): void {
    const held = state.held;
    if (held === undefined) return;
    state.held = undefined;
    for (const pub of held) this.#accept(state.channel, pub, 'live');
  }

  #onPush(connection: number, channel: string, pub: PublicationFrame): void {
    if (connection !== this.#connection) return; // a stale connection's last frames
    const state = this.#channels.get(channel);
    if (state === undefined) return;
    if (state.held !== undefined) state.held.push(pub);
    else this.#accept(channel, pub, 'live');
  }

  #onSubscribed(channel: string, since: Position | undefined, result: SubscribeResult): void {
    const state = this.#state(channel);
    const current =
      result.offset === undefined ? undefined : { offset: result.offset, epoch: result.epoch ?? '' };
    if (since === undefined) {
      state.position = current;
      return;
    }
    if (result.recovered !== true) {
      const event = {
        channel,
        since,
        current: current ?? since,
        connection: this.#connection,
        at: Date.now(),
      };
      this.#notRecovered.push(event);
      state.position = current;
      return;
    }
    this.#recovered += 1;
    for (const pub of result.publications ?? []) this.#accept(channel, pub, 'recovery');
    const last = state.position;
    if (current !== undefined && (last?.offset !== current.offset || last.epoch !== current.epoch)) {
      this.#anomaly('gap', channel, last, current);
      state.position = current;
    }
  }

  /** Checks one publication against the channel's last position, then records it. */
  #accept(channel: string, pub: PublicationFrame, via: Receipt['via']): void {
    const state = this.#state(channel);
    if (pub.offset === undefined || pub.epoch === undefined) return; // a channel without history
    const got = { offset: pub.offset, epoch: pub.epoch };
    const id = idOf(pub);
    const key = `${got.epoch}:${got.offset}:${id ?? ''}`;
    if (state.seen.has(key)) {
      this.#anomaly('duplicate', channel, undefined, got);
      return;
    }
    const last = state.position;
    if (last !== undefined) {
      if (got.epoch !== last.epoch || got.offset > last.offset + 1) this.#anomaly('gap', channel, last, got);
      else if (got.offset <= last.offset) this.#anomaly('out-of-order', channel, last, got);
    }
    state.position = got;
    state.seen.add(key);
    this.#receipts.push({ channel, ...got, id, via, connection: this.#connection, at: Date.now() });
  }

  #anomaly(kind: Anomaly['kind'], channel: string, after: Position | undefined, got: Position): void {
    this.#anomalies.push({ kind, channel, after, got, connection: this.#connection, at: Date.now() });
  }

  #state(channel: string): ChannelState {
    const state = this.#channels.get(channel);
    if (state === undefined) throw new Error(`${this.name} does not subscribe to ${channel}`);
    return state;
  }
}

/** The checking publisher's id in a publication's data, if it has one. */
function idOf(pub: PublicationFrame): string | undefined {
  const data = pub.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const id = data['id'];
  return typeof id === 'string' ? id : undefined;
}
