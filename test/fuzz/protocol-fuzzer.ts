/**
 * The protocol fuzzer: many connections to a running Herald, each sending the frames of its seeded
 * script (frames.ts), with every answer checked against docs/protocol.md:
 *
 * - every message the server sends is a JSON object; every message of a frame gets exactly one reply,
 *   in order, carrying its id (or none when the message had no valid id); pongs get none;
 * - error replies carry a documented code, and never 100 (internal);
 * - every close code is a documented one, never 3002 (internal); a frame that must close the
 *   connection closes it with its code; a connected connection is never closed without cause;
 * - a control client on its own connection keeps publishing and receiving its publications;
 * - the server's heap after a full GC, sampled through the run, does not grow between the first and
 *   the last third beyond {@link HEAP_GROWTH_BOUND_BYTES}.
 */
import WebSocket from 'ws';
import { DisconnectCode, ErrorCode, SUBPROTOCOL, splitFrame } from '@herald/protocol';
import { ControlClient } from './control-client.ts';
import {
  CLOSE_CODES,
  ERROR_CODES,
  expectedReplies,
  INTERNAL_CLOSE_CODE,
  INTERNAL_ERROR_CODE,
  type ExpectedReply,
} from './expectations.ts';
import { connectionPlan, ConnectionScript, type Frame, type FrameKind } from './frames.ts';
import { runBadHandshake, runRawFraming, type RawContext } from './raw-connections.ts';
import { Tally, Violations } from './tally.ts';

/**
 * How much the server's heap (after a full GC) may grow from the first third of a run to the last.
 * The server's legitimate state is bounded by the fixed channel pool (history of 100 publications per
 * channel, presence, metrics by code), so what grows beyond this is a leak.
 */
export const HEAP_GROWTH_BOUND_BYTES = 8 * 1024 * 1024;
/** Most replies a pipelining connection waits for before it sends more (the server queues 1,024). */
const PIPELINE_MOST = 100;
/** The close that follows a failed connect, by its error code (docs/protocol.md, `connect`). */
const FAILED_CONNECT_CLOSE: Readonly<Record<number, number>> = {
  [ErrorCode.UNAUTHORIZED]: DisconnectCode.UNAUTHORIZED,
  [ErrorCode.TOKEN_EXPIRED]: DisconnectCode.TOKEN_EXPIRED,
  [ErrorCode.TOO_MANY_CONNECTIONS]: DisconnectCode.CONNECTION_LIMIT,
  [ErrorCode.SHUTTING_DOWN]: DisconnectCode.SHUTDOWN,
};
/** How long the replies to a frame may take. */
const REPLY_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** Heap samples taken through the run (plus one before it). */
const HEAP_SAMPLES = 12;

export interface ProtocolFuzzOptions {
  readonly wsUrl: string;
  readonly port: number;
  readonly seed: number;
  /** Frames to send in all. */
  readonly frames: number;
  /** Connections open at once. */
  readonly concurrency: number;
  readonly maxFrameBytes: number;
  /** Fills a frame's `{{token:…}}` and `{{epoch:…}}` placeholders. */
  readonly fill: (text: string) => string;
  /** A token the control client connects with. */
  readonly controlToken: string;
  /** The server's heap after a full GC. */
  readonly heap: () => Promise<number>;
  /** False once the server process is gone. */
  readonly alive: () => boolean;
  readonly onProgress?: (framesSent: number) => void;
}

export interface ProtocolFuzzResult {
  framesSent: number;
  messagesSent: number;
  connections: number;
  readonly framesByKind: Tally;
  readonly replies: Tally;
  readonly closes: Tally;
  readonly handshakes: Tally;
  readonly violations: Violations;
  readonly control: { roundTrips: number; failures: number; maxLatencyMs: number };
  /** Heap samples (bytes) at the start and at each twelfth of the run. */
  readonly heap: number[];
  /** Medians of the samples of the first and of the last third of the run. */
  heapFirstThird: number;
  heapLastThird: number;
  heapGrowth: number;
  durationMs: number;
}

export async function fuzzProtocol(options: ProtocolFuzzOptions): Promise<ProtocolFuzzResult> {
  const result: ProtocolFuzzResult = {
    framesSent: 0,
    messagesSent: 0,
    connections: 0,
    framesByKind: new Tally(),
    replies: new Tally(),
    closes: new Tally(),
    handshakes: new Tally(),
    violations: new Violations(),
    control: { roundTrips: 0, failures: 0, maxLatencyMs: 0 },
    heap: [],
    heapFirstThird: 0,
    heapLastThird: 0,
    heapGrowth: 0,
    durationMs: 0,
  };
  const started = Date.now();
  result.heap.push(await options.heap());
  const control = await ControlClient.start(
    options.wsUrl,
    options.controlToken,
    result.control,
    result.violations,
  );
  let next = 0;
  let sampling: Promise<void> = Promise.resolve();
  let nextSample = 1;
  const checkpoint = () => {
    options.onProgress?.(result.framesSent);
    while (nextSample <= HEAP_SAMPLES && result.framesSent >= (options.frames * nextSample) / HEAP_SAMPLES) {
      nextSample++;
      sampling = sampling.then(async () => {
        result.heap.push(await options.heap());
      });
    }
  };
  const worker = async () => {
    while (result.framesSent < options.frames && options.alive()) {
      const index = next++;
      result.connections++;
      const runner = new ConnectionRunner(options, result, index, checkpoint);
      await runner.run();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await sampling;
  while (result.heap.length < HEAP_SAMPLES + 1 && options.alive()) result.heap.push(await options.heap());
  await control.stop();
  const third = Math.floor(HEAP_SAMPLES / 3);
  result.heapFirstThird = median(result.heap.slice(1, 1 + third));
  result.heapLastThird = median(result.heap.slice(-third));
  result.heapGrowth = result.heapLastThird - result.heapFirstThird;
  result.durationMs = Date.now() - started;
  if (!options.alive()) result.violations.add('server', 'the server process exited during the run');
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** One connection: its script run over WebSocket, raw framing or a refused handshake. */
class ConnectionRunner {
  readonly #options: ProtocolFuzzOptions;
  readonly #result: ProtocolFuzzResult;
  readonly #index: number;
  readonly #checkpoint: () => void;
  #expected: ExpectedReply[] = [];
  #waiter: (() => void) | undefined;
  #closed: { code: number; reason: string } | undefined;
  #connected = false;
  /** The error code of a failed connect, after which the server must close the connection. */
  #failedConnect: number | undefined;
  #lastKind: FrameKind | 'none' = 'none';

  constructor(
    options: ProtocolFuzzOptions,
    result: ProtocolFuzzResult,
    index: number,
    checkpoint: () => void,
  ) {
    this.#options = options;
    this.#result = result;
    this.#index = index;
    this.#checkpoint = checkpoint;
  }

  async run(): Promise<void> {
    const plan = connectionPlan(this.#options.seed, this.#index);
    if (plan === 'raw-framing') return runRawFraming(this.#rawContext());
    if (plan === 'handshake') return runBadHandshake(this.#rawContext());
    return this.#websocket();
  }

  #rawContext(): RawContext {
    const { port, seed, maxFrameBytes } = this.#options;
    const result = this.#result;
    return {
      port,
      seed,
      maxFrameBytes,
      index: this.#index,
      sent: (kind) => {
        result.framesSent++;
        result.framesByKind.add(kind);
        this.#checkpoint();
      },
      closes: result.closes,
      handshakes: result.handshakes,
      violation: (what, detail) => this.#violation(what, detail),
    };
  }

  #violation(what: string, detail: string): void {
    this.#result.violations.add(what, `connection ${this.#index} (seed ${this.#options.seed}): ${detail}`);
  }

  async #websocket(): Promise<void> {
    const { wsUrl, seed, maxFrameBytes, fill } = this.#options;
    const ws = new WebSocket(wsUrl, SUBPROTOCOL, { perMessageDeflate: false });
    const closed = new Promise<void>((resolve) => {
      ws.on('close', (code, reason) => {
        this.#closed = { code, reason: reason.toString() };
        this.#wake();
        resolve();
      });
    });
    ws.on('error', () => {}); // the close event follows
    ws.on('message', (data, isBinary) => this.#receive(data.toString(), isBinary));
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('close', () => resolve(false));
    });
    if (!opened) {
      this.#violation('handshake failed', 'a valid WebSocket handshake was refused');
      return;
    }
    const script = new ConnectionScript(seed, this.#index, { maxFrameBytes });
    // Odd connections send up to three frames without waiting for their replies (floods and closing
    // frames excepted): only the timing changes, not what is sent.
    const pipelining = this.#index % 2 === 1;
    let frame: Frame | undefined;
    let sent = 0;
    while ((frame = script.next()) !== undefined) {
      const pipeline =
        pipelining &&
        frame.closes === undefined &&
        frame.kind !== 'flood' &&
        this.#expected.length < PIPELINE_MOST &&
        sent++ % 4 !== 0;
      if (!pipeline && !(await this.#settle(frame.kind))) break;
      if (this.#closed !== undefined || ws.readyState !== WebSocket.OPEN) break;
      // A failed connect closes the connection: what it closes with is checked, not raced.
      if (this.#failedConnect !== undefined) break;
      this.#send(ws, frame, fill);
      if (frame.closes !== undefined) {
        await this.#awaitClose(closed);
        this.#checkTerminalClose(frame);
        return;
      }
    }
    await this.#settle(this.#lastKind);
    if (this.#failedConnect !== undefined) await this.#awaitClose(closed);
    if (this.#closed === undefined) {
      ws.close(1000);
      await this.#awaitClose(closed);
    }
    this.#recordClose();
  }

  #send(ws: WebSocket, frame: Frame, fill: (text: string) => string): void {
    const result = this.#result;
    this.#lastKind = frame.kind;
    if (typeof frame.payload === 'string') {
      const text = frame.payload.includes('{{') ? fill(frame.payload) : frame.payload;
      ws.send(text, { binary: frame.binary });
      if (frame.closes === undefined && !frame.binary) {
        const expected = expectedReplies(text);
        this.#expected.push(...expected);
        result.messagesSent += expected.length;
      }
    } else {
      ws.send(frame.payload, { binary: frame.binary });
    }
    result.framesSent++;
    result.framesByKind.add(frame.kind);
    this.#checkpoint();
  }

  /** Waits until every reply expected so far arrived (true), or the connection closed (false). */
  async #settle(kind: FrameKind | 'none'): Promise<boolean> {
    if (this.#closed !== undefined) return false;
    if (this.#expected.length === 0) return true;
    const waited = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), REPLY_TIMEOUT_MS);
      this.#waiter = () => {
        if (this.#expected.length > 0 && this.#closed === undefined) return;
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(true);
      };
    });
    if (!waited) {
      const missing = this.#expected.length;
      this.#violation('no reply', `${missing} replies missing ${REPLY_TIMEOUT_MS} ms after a ${kind} frame`);
      this.#expected = [];
    }
    // A close frame right behind the last reply is processed in the same turn: let it land.
    await new Promise((resolve) => setImmediate(resolve));
    return this.#closed === undefined;
  }

  #wake(): void {
    this.#waiter?.();
  }

  async #awaitClose(closed: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.#violation('no close', `not closed ${CLOSE_TIMEOUT_MS} ms after a ${this.#lastKind} frame`);
  }

  #receive(text: string, isBinary: boolean): void {
    if (isBinary) this.#violation('binary from server', 'the server sent a binary frame');
    for (const line of splitFrame(text)) {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.#violation('invalid JSON from server', line.slice(0, 200));
        continue;
      }
      if (message === null || typeof message !== 'object' || Array.isArray(message)) {
        this.#violation('non-object from server', line.slice(0, 200));
        continue;
      }
      if ('push' in message) {
        this.#result.replies.add('push');
        continue;
      }
      if ('ping' in message && !('id' in message)) {
        this.#result.replies.add('server ping');
        continue;
      }
      this.#reply(message, line);
    }
    this.#wake();
  }

  #reply(message: Record<string, unknown>, line: string): void {
    const expected = this.#expected.shift();
    const id = 'id' in message ? message['id'] : null;
    if (expected === undefined) {
      this.#violation('unexpected reply', line.slice(0, 200));
      return;
    }
    if (expected.id !== id) {
      this.#violation('reply out of order', `expected id ${String(expected.id)}, got ${line.slice(0, 200)}`);
    }
    const hasResult = 'result' in message;
    const error = message['error'] as { code?: unknown; message?: unknown } | undefined;
    if (hasResult === (error !== undefined)) {
      this.#violation('malformed reply', line.slice(0, 200));
      return;
    }
    if (hasResult) {
      this.#result.replies.add('result');
      if (expected.method === 'connect') this.#connected = true;
      return;
    }
    const code = error?.code;
    if (typeof code !== 'number' || !ERROR_CODES.has(code) || typeof error?.message !== 'string') {
      this.#violation('undocumented error', line.slice(0, 200));
      return;
    }
    this.#result.replies.add(`error ${code}`);
    if (code === INTERNAL_ERROR_CODE) this.#violation('internal error', line.slice(0, 300));
    // A connect that ran and failed (not one without a valid id, nor one refused by the rate limit).
    const ran = expected.id !== null && code !== ErrorCode.COMMAND_RATE_LIMITED;
    if (expected.method === 'connect' && ran && !this.#connected && code !== ErrorCode.ALREADY_CONNECTED) {
      this.#failedConnect ??= code;
    }
  }

  /** Counts the close of a connection whose script ran out (or was cut short by the server). */
  #recordClose(): void {
    const closed = this.#closed;
    if (closed === undefined) {
      this.#result.closes.add('not closed');
      return;
    }
    this.#result.closes.add(String(closed.code));
    if (!CLOSE_CODES.has(closed.code))
      this.#violation('undocumented close', `${closed.code} ${closed.reason}`);
    if (closed.code === INTERNAL_CLOSE_CODE)
      this.#violation('internal close', `${closed.code} ${closed.reason}`);
    if (this.#failedConnect !== undefined) {
      const expected = FAILED_CONNECT_CLOSE[this.#failedConnect] ?? DisconnectCode.BAD_REQUEST;
      if (closed.code !== expected) {
        this.#violation(
          'wrong close code',
          `connect failed with ${this.#failedConnect}, closed with ${closed.code} "${closed.reason}"`,
        );
      }
    }
    // A connected client that sent nothing closing is never closed by the server without cause.
    if (this.#connected && closed.code !== 1000) {
      this.#violation(
        'unprovoked close',
        `closed ${closed.code} "${closed.reason}" after a ${this.#lastKind} frame while connected`,
      );
    }
  }

  #checkTerminalClose(frame: Frame): void {
    const closed = this.#closed;
    if (closed === undefined) return;
    this.#result.closes.add(String(closed.code));
    if (!CLOSE_CODES.has(closed.code))
      this.#violation('undocumented close', `${closed.code} ${closed.reason}`);
    if (closed.code !== frame.closes) {
      this.#violation(
        'wrong close code',
        `a ${frame.kind} frame closed with ${closed.code} "${closed.reason}", expected ${frame.closes}`,
      );
    }
  }
}
