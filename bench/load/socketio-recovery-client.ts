/**
 * A Socket.IO 4 client for the `recovery` scenario, speaking just enough of the Engine.IO v4 /
 * Socket.IO v5 wire protocol over a raw WebSocket to use connection state recovery, as
 * `socket.io-client` does:
 *
 *   ← 0{"sid":…,"pingInterval":…}            Engine.IO open
 *   → 40                                     connect (first time)
 *   → 40{"pid":"…","offset":"…"}             connect, recovering the session `pid` after event `offset`
 *   ← 42["message",{…},"<offset>"]…          missed events (a recovering server sends them first)
 *   ← 40{"sid":"…","pid":"…"}                connect reply: the same `pid` means the session was recovered
 *   → 420["subscribe","<channel>"]  ← 430[true]   join the channel's room (first time only)
 *   ← 2  → 3                                 Engine.IO ping / pong
 *
 * Each event's data carries its sequence number in the channel (`"n"`), so the client can tell a gap
 * or a duplicate, the way Herald's clients use offsets.
 */
import WebSocket from 'ws';

/** Where a client stands: enough to recover. */
export interface SocketIoSession {
  /** The private session id from the connect reply. */
  readonly pid: string;
  /** The offset (last argument) of the last event received. */
  readonly offset: string;
  /** `n` of the last event received. */
  readonly seq: number;
}

export interface SocketIoClientSpec {
  /** The server's base WebSocket URL. */
  readonly url: string;
  readonly channel: string;
  readonly localAddress: string;
  /** Reconnect recovering this session (instead of connecting afresh and joining `channel`)… */
  readonly resume?: SocketIoSession | undefined;
  /** …and resolve once this many missed events have arrived as well as the connect reply. */
  readonly expected?: number;
}

/** What a recovering reconnect got. */
export interface SocketIoRecovery {
  /** The connect reply carried the session's `pid`. */
  readonly recovered: boolean;
  readonly count: number;
  /** `n` of the first and last event received since reconnecting. */
  readonly first: number | undefined;
  readonly last: number | undefined;
  /** Whether each event's `n` was the previous one's plus 1. */
  readonly contiguous: boolean;
}

export class SocketIoRecoveryClient {
  /** Events received since opened. */
  received = 0;
  readonly #ws: WebSocket;
  readonly #spec: SocketIoClientSpec;
  #pid: string | undefined;
  #offset: string | undefined;
  #seq = 0;
  #first: number | undefined;
  #contiguous = true;
  #connected = false;
  #recovered = false;
  #done = false;
  #closing = false;
  #settle: ((error?: Error) => void) | undefined;

  private constructor(spec: SocketIoClientSpec) {
    this.#spec = spec;
    if (spec.resume !== undefined) this.#seq = spec.resume.seq;
    this.#ws = new WebSocket(`${spec.url}/socket.io/?EIO=4&transport=websocket`, [], {
      perMessageDeflate: false,
      localAddress: spec.localAddress,
    });
    this.#ws.on('message', (data: Buffer) => this.#onFrame(data.toString()));
    this.#ws.on('close', (code) => this.#fail(`closed: ${code}`));
    this.#ws.on('error', (error) => this.#fail(`error: ${error.message}`));
  }

  /**
   * Connects and either joins the channel (no `resume`) or recovers; resolves once subscribed, or
   * once the connect reply and `expected` events have arrived.
   */
  static open(spec: SocketIoClientSpec, timeoutMs: number): Promise<SocketIoRecoveryClient> {
    const client = new SocketIoRecoveryClient(spec);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => client.#settle?.(new Error(`timed out with ${client.received} events`)),
        timeoutMs,
      );
      client.#settle = (error) => {
        clearTimeout(timer);
        client.#settle = undefined;
        if (error === undefined) return resolve(client);
        client.close();
        reject(error);
      };
    });
  }

  /** Where this client stands, once it has a session and has received an event. */
  get session(): SocketIoSession | undefined {
    return this.#pid === undefined || this.#offset === undefined
      ? undefined
      : { pid: this.#pid, offset: this.#offset, seq: this.#seq };
  }

  /** What the recovering reconnect got (meaningful once {@link open} resolved). */
  get recovery(): SocketIoRecovery {
    return {
      recovered: this.#recovered,
      count: this.received,
      first: this.#first,
      last: this.received === 0 ? undefined : this.#seq,
      contiguous: this.#contiguous,
    };
  }

  close(): void {
    this.#closing = true;
    this.#ws.removeAllListeners('error');
    this.#ws.on('error', () => undefined);
    this.#ws.terminate();
  }

  #fail(reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#settle?.(new Error(reason));
  }

  #onFrame(text: string): void {
    if (text.startsWith('42')) return this.#onEvent(text);
    if (text === '2') return void this.#ws.send('3');
    if (text.startsWith('40')) return this.#onConnectReply(text);
    if (text.startsWith('430')) return this.#finish();
    if (text.startsWith('0')) {
      const resume = this.#spec.resume;
      this.#ws.send(
        resume === undefined ? '40' : `40${JSON.stringify({ pid: resume.pid, offset: resume.offset })}`,
      );
      return;
    }
    if (text.startsWith('44')) this.#fail(`connect refused: ${text.slice(0, 200)}`);
  }

  #onConnectReply(text: string): void {
    const reply = JSON.parse(text.slice(2) || '{}') as { pid?: string };
    this.#connected = true;
    if (this.#spec.resume === undefined) {
      this.#pid = reply.pid;
      this.#ws.send(`420${JSON.stringify(['subscribe', this.#spec.channel])}`);
      return;
    }
    this.#recovered = reply.pid !== undefined && reply.pid === this.#spec.resume.pid;
    if (!this.#recovered) return this.#fail('not recovered: the server started a new session');
    this.#pid = reply.pid;
    this.#checkRecovered();
  }

  #onEvent(text: string): void {
    const args = JSON.parse(text.slice(2)) as unknown[];
    const data = args[1] as { n?: unknown } | undefined;
    const offset = args.at(-1);
    if (args.length > 2 && typeof offset === 'string') this.#offset = offset;
    const n = typeof data?.n === 'number' ? data.n : NaN;
    if (n !== this.#seq + 1) this.#contiguous = false;
    this.#first ??= n;
    this.#seq = n;
    this.received += 1;
    this.#checkRecovered();
  }

  #checkRecovered(): void {
    if (this.#spec.resume !== undefined && this.#connected && this.received >= (this.#spec.expected ?? 0))
      this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle?.();
  }
}
