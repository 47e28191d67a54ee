/**
 * The load generator's subscribers: one WebSocket each, speaking just enough of each system's
 * protocol to subscribe, stay alive and count what arrives. They count messages without parsing
 * them (a substring scan of each frame), so that the load processes, which share two cores with the
 * server, spend as little as possible per message and every system is measured the same way. A few
 * subscribers per process are *probes*: they also read each message's send time (`"t":`) for the
 * latency histogram.
 */
import WebSocket from 'ws';
import { nowMs } from '../lib/messages.ts';

/** How a system's clients talk. */
export type WireProtocol = 'herald' | 'socketio' | 'ws';

export interface SubscriberSpec {
  readonly protocol: WireProtocol;
  /** The server's base WebSocket URL, e.g. `ws://127.0.0.1:8080`. */
  readonly url: string;
  readonly channel: string;
  /** Herald: a connection token (empty: anonymous). */
  readonly token: string;
  /** Loopback source address, so that many connections do not exhaust one address's ports. */
  readonly localAddress: string;
  readonly probe: boolean;
  /**
   * Herald: keep {@link WireSubscriber.position} up to date from every frame (for recovery); throughput
   * subscribers leave it off so that they pay per frame what the other systems' clients pay.
   */
  readonly trackPosition?: boolean;
  /** Herald: subscribe from this position (`{offset, epoch}`) to recover what was missed. */
  readonly since?: { readonly offset: number; readonly epoch: string } | undefined;
}

/** Herald: what the reply to a subscribe with `since` said, for checking a recovery. */
export interface RecoveryReply {
  /** The reply's `recovered` flag. */
  readonly recovered: boolean;
  /** Publications in the reply. */
  readonly count: number;
  /** Offsets of its first and last publication. */
  readonly first: number | undefined;
  readonly last: number | undefined;
  /** Whether each publication's offset is the previous one's plus 1. */
  readonly contiguous: boolean;
}

/** What every subscriber reports to. */
export interface Sink {
  /** A probe read a message sent (intended) at `sentAt`, arriving at `now`. */
  latency(sentAt: number, now: number): void;
  /** The server closed or broke a subscribed connection. */
  lost(reason: string): void;
}

/** The fourth byte of `{"push"…` and of `{"ping"…`. */
const PUSH_BYTE = 0x75; // u
const PING_BYTE = 0x69; // i
const NEWLINE = 0x0a;
const TIME_KEY = '"t":';
const OFFSET_KEY = Buffer.from('"pub":{"offset":');
const POSITION = /^"pub":\{"offset":(\d+),"epoch":"([^"]*)"/;

export class WireSubscriber {
  /** Messages received since the last {@link take}. */
  delivered = 0;
  /** Herald: the stream position of the subscribe reply, then (with `trackPosition`) of the last publication. */
  position: { offset: number; epoch: string } | undefined;
  /** Herald, subscribed with `since`: what the subscribe reply recovered. */
  recovery: RecoveryReply | undefined;
  readonly #ws: WebSocket;
  readonly #spec: SubscriberSpec;
  readonly #sink: Sink;
  #subscribed = false;
  #closing = false;
  #settle: ((error?: Error) => void) | undefined;

  private constructor(spec: SubscriberSpec, sink: Sink) {
    this.#spec = spec;
    this.#sink = sink;
    const { url, protocol } = spec;
    const address =
      protocol === 'herald'
        ? `${url}/connection/websocket`
        : protocol === 'socketio'
          ? `${url}/socket.io/?EIO=4&transport=websocket`
          : `${url}/?channel=${encodeURIComponent(spec.channel)}`;
    this.#ws = new WebSocket(address, protocol === 'herald' ? 'herald.v1.json' : [], {
      perMessageDeflate: false,
      localAddress: spec.localAddress,
    });
    this.#ws.on('message', (data: Buffer) => this.#onFrame(data));
    this.#ws.on('close', (code, reason) => this.#fail(`closed: ${code} ${reason.toString()}`));
    this.#ws.on('error', (error) => this.#fail(`error: ${error.message}`));
    this.#ws.on('open', () => this.#onOpen());
  }

  /** Connects and subscribes; resolves once the server confirmed the subscription. */
  static open(spec: SubscriberSpec, sink: Sink, timeoutMs = 30_000): Promise<WireSubscriber> {
    const subscriber = new WireSubscriber(spec, sink);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => subscriber.#settle?.(new Error('subscribe timed out')), timeoutMs);
      subscriber.#settle = (error) => {
        clearTimeout(timer);
        subscriber.#settle = undefined;
        if (error === undefined) return resolve(subscriber);
        subscriber.close();
        reject(error);
      };
    });
  }

  get open(): boolean {
    return this.#subscribed && !this.#closing;
  }

  close(): void {
    this.#closing = true;
    this.#ws.removeAllListeners('error');
    this.#ws.on('error', () => undefined);
    this.#ws.terminate();
  }

  #onOpen(): void {
    if (this.#spec.protocol === 'ws') return this.#confirm();
    if (this.#spec.protocol === 'herald') {
      const since = this.#spec.since === undefined ? '' : `,"since":${JSON.stringify(this.#spec.since)}`;
      this.#ws.send(
        `{"id":1,"connect":{"token":${JSON.stringify(this.#spec.token)}}}\n` +
          `{"id":2,"subscribe":{"channel":${JSON.stringify(this.#spec.channel)}${since}}}`,
      );
    }
    // Socket.IO: the server speaks first (Engine.IO open packet).
  }

  #confirm(): void {
    this.#subscribed = true;
    this.#settle?.();
  }

  #fail(reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#settle !== undefined) this.#settle(new Error(reason));
    else this.#sink.lost(reason);
  }

  #onFrame(data: Buffer): void {
    const now = nowMs();
    switch (this.#spec.protocol) {
      case 'herald':
        return this.#onHeraldFrame(data, now);
      case 'socketio':
        return this.#onSocketIoFrame(data, now);
      case 'ws':
        return this.#onWsFrame(data, now);
    }
  }

  #onHeraldFrame(data: Buffer, now: number): void {
    if (!this.#subscribed) return this.#onHeraldSetup(data.toString());
    // Messages are separated by "\n"; each is a push (`{"pu…`) or, rarely, a ping (`{"pi…`). Counting
    // newlines (a memchr) and looking at one byte per message costs what the raw ws clients pay.
    let count = 0;
    let ping = false;
    for (let start = 0; start < data.length;) {
      if (data[start + 3] === PUSH_BYTE) count += 1;
      else if (data[start + 3] === PING_BYTE) ping = true;
      const end = data.indexOf(NEWLINE, start);
      start = end === -1 ? data.length : end + 1;
    }
    this.delivered += count;
    if (ping) this.#ws.send('{"pong":{}}');
    if (count === 0) return;
    if (this.#spec.trackPosition === true) this.#readPosition(data);
    if (this.#spec.probe) this.#readTimes(data.toString(), now);
  }

  #onHeraldSetup(text: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const message = JSON.parse(line) as {
        id?: number;
        error?: unknown;
        result?: {
          offset?: number;
          epoch?: string;
          recovered?: boolean;
          publications?: { offset?: number }[];
        };
      };
      if (message.error !== undefined) return this.#fail(`error reply: ${line.slice(0, 200)}`);
      if (message.id === 2 && message.result !== undefined) {
        const { offset, epoch, publications } = message.result;
        if (offset !== undefined && epoch !== undefined) this.position = { offset, epoch };
        this.delivered += publications?.length ?? 0;
        if (this.#spec.since !== undefined) this.recovery = readRecovery(message.result);
        this.#confirm();
      }
    }
  }

  #onSocketIoFrame(data: Buffer, now: number): void {
    // Engine.IO packet types: 0 open, 2 ping, 4 message; Socket.IO: 0 connect, 2 event, 3 ack.
    const type = data[0];
    if (type === 0x34 /* 4 */ && data[1] === 0x32 /* 2: event */) {
      this.delivered += 1;
      if (this.#spec.probe) this.#readTimes(data.toString(), now);
      return;
    }
    const text = data.toString();
    if (text === '2') this.#ws.send('3');
    else if (text.startsWith('0')) this.#ws.send('40');
    else if (text.startsWith('40')) this.#ws.send(`420${JSON.stringify(['subscribe', this.#spec.channel])}`);
    else if (text.startsWith('430')) this.#confirm();
    else if (text.startsWith('44')) this.#fail(`connect refused: ${text.slice(0, 200)}`);
  }

  #onWsFrame(data: Buffer, now: number): void {
    let count = 1;
    for (let at = data.indexOf(NEWLINE); at !== -1; at = data.indexOf(NEWLINE, at + 1)) count += 1;
    this.delivered += count;
    if (this.#spec.probe) this.#readTimes(data.toString(), now);
  }

  /** Reads every `"t":<ms>` in a frame. */
  #readTimes(text: string, now: number): void {
    for (let at = text.indexOf(TIME_KEY); at !== -1; at = text.indexOf(TIME_KEY, at + 1)) {
      const start = at + TIME_KEY.length;
      let end = start;
      while (end < text.length && text.charCodeAt(end) !== 44 /* , */ && text.charCodeAt(end) !== 125 /* } */)
        end += 1;
      const sentAt = Number(text.slice(start, end));
      if (Number.isFinite(sentAt)) this.#sink.latency(sentAt, now);
    }
  }

  /** The position of the frame's last publication: only the end of the frame is read. */
  #readPosition(data: Buffer): void {
    const at = data.lastIndexOf(OFFSET_KEY);
    if (at === -1) return;
    const match = POSITION.exec(data.toString('latin1', at, at + 120));
    if (match !== null) this.position = { offset: Number(match[1]), epoch: match[2] ?? '' };
  }
}

function readRecovery(result: { recovered?: boolean; publications?: { offset?: number }[] }): RecoveryReply {
  const offsets = (result.publications ?? []).map((publication) => publication.offset);
  return {
    recovered: result.recovered === true,
    count: offsets.length,
    first: offsets[0],
    last: offsets.at(-1),
    contiguous: offsets.every((offset, i) => i === 0 || offset === (offsets[i - 1] ?? NaN) + 1),
  };
}
