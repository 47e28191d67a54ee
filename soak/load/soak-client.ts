/**
 * One soak subscriber: a WebSocket to a Herald node speaking the JSON protocol (docs/protocol.md),
 * subscribed to one channel. It parses every message, checks the stream with a {@link StreamCheck}
 * (offsets in order, nothing missing or repeated), reports each live publication's delivery lag (arrival
 * − the publisher's due time in `data.t`) and answers pings. It comes back by itself, recovering with
 * `since`, when the server closes it; the soak's churn drops it on purpose and reconnects it, often to
 * the other node.
 */
import WebSocket from 'ws';
import { nowMs } from '../../bench/lib/messages.ts';
import { StreamCheck, type Position, type StreamTally, type SubscribeReply } from '../lib/stream-check.ts';

/** What the clients of a load process report to. */
export interface ClientSink {
  readonly tally: StreamTally;
  /** A live publication arrived `ms` after its due time. */
  lag(ms: number): void;
  /** The server closed or broke a subscribed connection (the client reconnects by itself). */
  unexpectedClose(reason: string): void;
  /** A connect or subscribe failed (the client retries). */
  error(reason: string): void;
}

export interface ClientOptions {
  readonly urls: readonly string[];
  /** The node to connect to first. */
  readonly node: number;
  readonly channel: string;
  /** A fresh connection token for each connection. */
  readonly token: () => Promise<string>;
  readonly sink: ClientSink;
}

interface Message {
  readonly id?: number;
  readonly error?: unknown;
  readonly result?: SubscribeReply;
  readonly ping?: unknown;
  readonly push?: { readonly channel?: string; readonly pub?: Position & { readonly data?: { t?: number } } };
}

/** How long a client waits before retrying after a failure or an unexpected close. */
const RETRY_MS = 1_000;
const SUBSCRIBE_TIMEOUT_MS = 30_000;

export class SoakClient {
  readonly channel: string;
  /** Times this client connected again after its first subscription. */
  reconnects = 0;
  readonly #options: ClientOptions;
  readonly #check: StreamCheck;
  #node: number;
  #ws: WebSocket | undefined;
  #state: 'down' | 'connecting' | 'subscribed' = 'down';
  #since: Position | undefined;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #onSubscribed: ((error?: Error) => void) | undefined;

  constructor(options: ClientOptions) {
    this.#options = options;
    this.channel = options.channel;
    this.#node = options.node;
    this.#check = new StreamCheck(options.sink.tally);
  }

  get subscribed(): boolean {
    return this.#state === 'subscribed';
  }

  /** The position of the last publication it received. */
  get position(): Position | undefined {
    return this.#check.position;
  }

  /** The first connection; resolves once subscribed, rejects if that fails or times out. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#onSubscribed?.(new Error('subscribe timed out')),
        SUBSCRIBE_TIMEOUT_MS,
      );
      this.#onSubscribed = (error) => {
        clearTimeout(timer);
        this.#onSubscribed = undefined;
        if (error === undefined) resolve();
        else {
          this.stop();
          reject(error);
        }
      };
      void this.#connect();
    });
  }

  /**
   * Churn: drops the connection (`terminate`: the socket is destroyed without a close frame, as when a
   * network goes away; `close`: a clean WebSocket close), then reconnects after `delayMs`, to the other
   * node when `switchNode`, recovering with `since`.
   */
  bounce(mode: 'terminate' | 'close', delayMs: number, switchNode: boolean): void {
    if (this.#stopped || this.#state !== 'subscribed') return;
    this.#drop(mode);
    if (switchNode) this.#node = (this.#node + 1) % this.#options.urls.length;
    this.#schedule(delayMs);
  }

  /** Closes for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#drop('terminate');
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    this.#state = 'connecting';
    let token: string;
    try {
      token = await this.#options.token();
    } catch (error) {
      return this.#failed(`token: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (this.#stopped) return;
    this.#since = this.#check.position;
    const ws = new WebSocket(`${this.#options.urls[this.#node]}/connection/websocket`, 'herald.v1.json', {
      perMessageDeflate: false,
    });
    this.#ws = ws;
    ws.on('open', () => {
      const since = this.#since === undefined ? '' : `,"since":${JSON.stringify(this.#since)}`;
      ws.send(
        `{"id":1,"connect":{"token":${JSON.stringify(token)}}}\n` +
          `{"id":2,"subscribe":{"channel":${JSON.stringify(this.channel)}${since}}}`,
      );
    });
    ws.on('message', (data: Buffer) => {
      if (this.#ws === ws) this.#onFrame(ws, data.toString());
    });
    ws.on('error', (error) => {
      if (this.#ws === ws) this.#lost(ws, `error: ${error.message}`);
    });
    ws.on('close', (code, reason) => {
      if (this.#ws === ws) this.#lost(ws, `closed: ${code} ${reason.toString()}`);
    });
  }

  #onFrame(ws: WebSocket, text: string): void {
    const now = nowMs();
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const message = JSON.parse(line) as Message;
      if (message.push?.pub !== undefined) {
        const { pub } = message.push;
        this.#check.push(pub);
        const sentAt = pub.data?.t;
        if (typeof sentAt === 'number') this.#options.sink.lag(now - sentAt);
      } else if (message.ping !== undefined) {
        ws.send('{"pong":{}}');
      } else if (message.error !== undefined) {
        this.#drop('terminate');
        this.#failed(`reply ${message.id ?? '?'}: ${JSON.stringify(message.error).slice(0, 200)}`);
      } else if (message.id === 2 && message.result !== undefined) {
        this.#check.subscribed(message.result, this.#since);
        this.#state = 'subscribed';
        this.#onSubscribed?.();
      }
    }
  }

  /** The connection went away without this client asking. */
  #lost(ws: WebSocket, reason: string): void {
    const wasSubscribed = this.#state === 'subscribed';
    this.#ws = undefined;
    ws.removeAllListeners();
    ws.on('error', () => undefined);
    ws.terminate();
    if (this.#stopped) return;
    if (!wasSubscribed) return this.#failed(reason);
    this.#state = 'down';
    this.#options.sink.unexpectedClose(reason);
    this.#schedule(RETRY_MS);
  }

  #failed(reason: string): void {
    this.#state = 'down';
    if (this.#onSubscribed !== undefined) return this.#onSubscribed(new Error(reason));
    this.#options.sink.error(reason);
    this.#schedule(RETRY_MS);
  }

  #drop(mode: 'terminate' | 'close'): void {
    const ws = this.#ws;
    this.#ws = undefined;
    this.#state = 'down';
    if (ws === undefined) return;
    ws.removeAllListeners();
    ws.on('error', () => undefined);
    if (mode === 'close' && ws.readyState === WebSocket.OPEN) ws.close(1000);
    else ws.terminate();
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#retry);
    if (this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.reconnects += 1;
      void this.#connect();
    }, delayMs);
  }
}
