/**
 * A bare protocol subscriber (docs/protocol.md) for load generation: one WebSocket, one channel. It
 * answers pings, checks that offsets arrive complete and in order, and hands each publication's data
 * to a callback. Pushes are read with a cheap prefix match instead of JSON.parse, because at 100
 * subscribers × 2,000 publications/s the parsing would otherwise cost the load process more than the
 * server; anything that does not match the expected shape falls back to JSON.parse.
 */
import WebSocket from 'ws';

/**
 * Called for each publication: `line` is the push message, its data's JSON text starts at `dataStart`,
 * and `now` is when the frame holding it arrived (`performance.timeOrigin + performance.now()`).
 */
export type PublicationHandler = (line: string, dataStart: number, now: number) => void;

/** What a subscriber saw of its channel's offsets. */
export interface OffsetCheck {
  /** Publications received. */
  readonly received: number;
  /** The last offset received (or the position at subscribe time). */
  readonly lastOffset: number;
  /** Offsets skipped (each missing offset counts once). */
  readonly missing: number;
  /** Publications whose offset was not greater than the one before (duplicates, reordering). */
  readonly outOfOrder: number;
  /** Publications of another epoch than the subscribe reply's. */
  readonly wrongEpoch: number;
  /** The first few anomalies, in words. */
  readonly anomalies: readonly string[];
}

export interface SubscribeOptions {
  readonly url: string;
  readonly token: string;
  readonly channel: string;
  readonly timeoutMs?: number;
  readonly onPublication?: PublicationHandler;
}

const MAX_ANOMALIES = 5;

export class BenchSubscriber {
  readonly channel: string;
  /** Set when the server closed the connection or it failed; a benchmark treats it as an error. */
  closedWith: string | undefined;
  onPublication: PublicationHandler | undefined;
  readonly #ws: WebSocket;
  readonly #pushPrefix: string;
  #epoch = '';
  #epochPart = '';
  #subscribed: ((error?: Error) => void) | undefined;
  #received = 0;
  #lastOffset = 0;
  #missing = 0;
  #outOfOrder = 0;
  #wrongEpoch = 0;
  readonly #anomalies: string[] = [];
  #closing = false;

  private constructor(ws: WebSocket, channel: string) {
    this.#ws = ws;
    this.channel = channel;
    this.#pushPrefix = `{"push":{"channel":${JSON.stringify(channel)},"pub":{"offset":`;
    ws.on('message', (data: Buffer) => this.#onFrame(data.toString()));
    ws.on('close', (code, reason) => this.#failed(`closed by the server: ${code} ${reason.toString()}`));
    ws.on('error', (error) => this.#failed(`connection error: ${error.message}`));
  }

  /** Connects, authenticates and subscribes; resolves after the subscribe reply. */
  static async open(options: SubscribeOptions): Promise<BenchSubscriber> {
    const ws = new WebSocket(options.url, 'herald.v1.json', { perMessageDeflate: false });
    const subscriber = new BenchSubscriber(ws, options.channel);
    subscriber.onPublication = options.onPublication;
    const timeoutMs = options.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        subscriber.#subscribed = (error) => (error === undefined ? resolve() : reject(error));
        timer = setTimeout(() => reject(new Error(`subscribe timed out after ${timeoutMs} ms`)), timeoutMs);
        ws.once('open', () =>
          ws.send(
            `{"id":1,"connect":{"token":${JSON.stringify(options.token)}}}\n` +
              `{"id":2,"subscribe":{"channel":${JSON.stringify(options.channel)}}}`,
          ),
        );
      });
      return subscriber;
    } catch (error) {
      subscriber.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The channel's epoch from the subscribe reply. */
  get epoch(): string {
    return this.#epoch;
  }

  get lastOffset(): number {
    return this.#lastOffset;
  }

  check(): OffsetCheck {
    return {
      received: this.#received,
      lastOffset: this.#lastOffset,
      missing: this.#missing,
      outOfOrder: this.#outOfOrder,
      wrongEpoch: this.#wrongEpoch,
      anomalies: [...this.#anomalies],
    };
  }

  close(): void {
    this.#closing = true;
    this.#ws.on('error', () => undefined);
    this.#ws.terminate();
  }

  #failed(reason: string): void {
    if (this.#closing) return;
    this.closedWith ??= reason;
    this.#subscribed?.(new Error(reason));
  }

  #onFrame(text: string): void {
    const now = performance.timeOrigin + performance.now();
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      if (end > start) this.#onLine(text.slice(start, end), now);
      start = end + 1;
    }
  }

  #onLine(line: string, now: number): void {
    if (this.#epochPart !== '' && line.startsWith(this.#pushPrefix)) {
      const offsetStart = this.#pushPrefix.length;
      const offsetEnd = line.indexOf(',', offsetStart);
      if (offsetEnd !== -1 && line.startsWith(this.#epochPart, offsetEnd)) {
        const offset = Number(line.slice(offsetStart, offsetEnd));
        this.#onPublication(offset, line, offsetEnd + this.#epochPart.length, now);
        return;
      }
    }
    this.#onOtherLine(line, now);
  }

  /** The slow path: replies, pings, and pushes not in the expected shape. */
  #onOtherLine(line: string, now: number): void {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      this.#anomaly(`not JSON: ${line.slice(0, 100)}`);
      return;
    }
    if (message.ping !== undefined) {
      this.#ws.send('{"pong":{}}');
    } else if (message.error !== undefined) {
      this.#failed(`error reply: ${line.slice(0, 200)}`);
    } else if (message.id === 2 && message.result !== undefined) {
      this.#epoch = message.result.epoch ?? '';
      this.#epochPart = `,"epoch":${JSON.stringify(this.#epoch)},"data":`;
      this.#lastOffset = message.result.offset ?? 0;
      this.#subscribed?.();
      this.#subscribed = undefined;
    } else if (message.id === undefined) {
      this.#onOtherPush(message, line, now);
    }
  }

  #onOtherPush(message: Message, line: string, now: number): void {
    const pub = message.push?.pub;
    if (pub === undefined || message.push?.channel !== this.channel || this.#epochPart === '') {
      this.#anomaly(`unexpected message: ${line.slice(0, 100)}`);
      return;
    }
    if (pub.epoch !== this.#epoch) {
      this.#wrongEpoch += 1;
      this.#anomaly(`epoch ${pub.epoch} after ${this.#epoch}`);
    }
    const dataStart = line.indexOf('"data":', line.indexOf('"pub":')) + '"data":'.length;
    this.#onPublication(pub.offset ?? 0, line, dataStart, now);
  }

  #onPublication(offset: number, line: string, dataStart: number, now: number): void {
    this.#received += 1;
    const expected = this.#lastOffset + 1;
    if (offset === expected) {
      this.#lastOffset = offset;
    } else if (offset > expected) {
      this.#missing += offset - expected;
      this.#anomaly(`offsets ${expected}..${offset - 1} missing`);
      this.#lastOffset = offset;
    } else {
      this.#outOfOrder += 1;
      this.#anomaly(`offset ${offset} after ${this.#lastOffset}`);
    }
    this.onPublication?.(line, dataStart, now);
  }

  #anomaly(text: string): void {
    if (this.#anomalies.length < MAX_ANOMALIES) this.#anomalies.push(text);
  }
}

interface Message {
  id?: number;
  ping?: unknown;
  error?: unknown;
  result?: { offset?: number; epoch?: string };
  push?: { channel?: string; pub?: { offset?: number; epoch?: string } };
}
