/**
 * A connection load process for the `connections` scenario: opens many WebSocket connections that
 * complete each system's handshake, then holds them idle (answering pings) for the benchmark process,
 * which drives it over IPC (`bench/lib/load-process.ts`).
 *
 * It speaks WebSocket over plain `net` sockets rather than through the `ws` client, because opening
 * connections costs a `ws` client about as much CPU as the server, and on a two-core machine the load
 * processes would then measure themselves. Per connection it writes one prepared upgrade request,
 * reads the 101 answer (without checking `Sec-WebSocket-Accept`: that only protects the client),
 * sends the system's setup messages as client frames masked with a zero key (allowed by RFC 6455;
 * the server unmasks them as usual) and parses the few frames the server sends back. Like a browser,
 * it waits for the 101 before sending anything else, and for each answer before the next step.
 *
 *   Herald     upgrade with `herald.v1.json`, then `connect` (JWT) and `subscribe` in one frame, as
 *              two lines; done at the subscribe reply. Answers `{"ping":…}` with `{"pong":{}}`.
 *   Socket.IO  upgrade to Engine.IO, its open packet, namespace connect (`40`), then an
 *              acknowledged `subscribe` event; done at the ack. Answers ping `2` with `3`.
 *   ws         upgrade to `/?channel=<name>`; done at the 101.
 */
import { connect, type Socket } from 'node:net';
import { serveRequests } from '../lib/load-process.ts';
import { nowMs } from '../lib/messages.ts';
import type { WireProtocol } from './wire.ts';

export interface ConnectRequest {
  readonly protocol: WireProtocol;
  /** The server's base HTTP URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Herald: a connection token. */
  readonly token: string;
  /** One entry per connection: the channel it subscribes to. */
  readonly channels: readonly string[];
  /** Loopback source addresses, used in turn. */
  readonly localAddresses: readonly string[];
  /** Connections being opened at once. */
  readonly concurrency: number;
  /** A connection not set up within this is counted as failed. */
  readonly timeoutMs: number;
}

export interface ConnectResult {
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
  /** When the first connection attempt started and the last setup finished, ms since the epoch. */
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface HoldState {
  /** Connections set up and still open. */
  readonly open: number;
  /** Connections the server closed or broke after setup. */
  readonly lost: number;
  readonly lostReasons: readonly string[];
  /** Pings answered since the connections were opened. */
  readonly pings: number;
}

const ZERO_MASK = Buffer.alloc(4);
/** An empty buffer to hold when everything read is consumed (a slice would keep the read's memory). */
const EMPTY = Buffer.alloc(0);
const HERALD_PATH = '/connection/websocket';
const SOCKET_IO_PATH = '/socket.io/?EIO=4&transport=websocket';
/** Any valid key: the server hashes it into `Sec-WebSocket-Accept`, which this client does not check. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HEADERS_END = Buffer.from('\r\n\r\n');
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** A client frame (FIN set) masked with a zero key, so the payload goes out as it is. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : length < 65_536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(length)]);
  return Buffer.concat([head, ZERO_MASK, payload]);
}

function bigLength(length: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(length));
  return buffer;
}

const textFrame = (text: string) => clientFrame(OP_TEXT, Buffer.from(text));
const HERALD_PONG = textFrame('{"pong":{}}');
const SOCKET_IO_PONG = textFrame('3');
const SOCKET_IO_CONNECT = textFrame('40');

function upgradeRequest(protocol: WireProtocol, host: string, channel: string): string {
  const path =
    protocol === 'herald'
      ? HERALD_PATH
      : protocol === 'socketio'
        ? SOCKET_IO_PATH
        : `/?channel=${encodeURIComponent(channel)}`;
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
    (protocol === 'herald' ? 'Sec-WebSocket-Protocol: herald.v1.json\r\n' : '') +
    '\r\n'
  );
}

/** Where a connection is in its setup. */
type Phase = 'upgrading' | 'setting-up' | 'open' | 'closed';

/** One connection: the upgrade, the setup exchange, then idle (answering pings). */
class Connection {
  phase: Phase = 'upgrading';
  readonly #socket: Socket;
  readonly #request: ConnectRequest;
  readonly #channel: string;
  #buffer: Buffer = EMPTY;
  #settle: ((error?: Error) => void) | undefined;

  constructor(
    request: ConnectRequest,
    channel: string,
    localAddress: string,
    settle: (error?: Error) => void,
  ) {
    this.#request = request;
    this.#channel = channel;
    this.#settle = settle;
    const target = new URL(request.url);
    this.#socket = connect({ host: target.hostname, port: Number(target.port), localAddress });
    this.#socket.setNoDelay(true);
    this.#socket.on('connect', () =>
      this.#socket.write(upgradeRequest(request.protocol, target.host, channel)),
    );
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (error) => this.#end(`error: ${error.message}`));
    this.#socket.on('close', () => this.#end('closed by the server'));
  }

  /** Gives up on a connection still being set up (its setup fails with `reason`). */
  abandon(reason: string): void {
    if (this.phase !== 'open') this.#end(reason);
  }

  /**
   * Ends the connection without counting it as lost, with a reset rather than a FIN: the client side
   * of a FIN-closed connection waits in TIME_WAIT for a minute, holding its source port, and binding
   * to an address crowded with those slows every later connect from it (the kernel walks the taken
   * ports), which would slow the next run's burst.
   */
  destroy(): void {
    this.phase = 'closed';
    if (this.#socket.readyState === 'open') this.#socket.resetAndDestroy();
    else this.#socket.destroy();
  }

  #ready(): void {
    this.phase = 'open';
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.();
  }

  #end(reason: string): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    this.#socket.destroy();
    if (wasOpen) state.onLost(reason);
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.(new Error(reason));
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (this.phase === 'upgrading') {
      const end = this.#buffer.indexOf(HEADERS_END);
      if (end === -1) return;
      const status = this.#buffer.toString('latin1', 0, Math.min(end, 200)).split('\r\n')[0] ?? '';
      if (!status.startsWith('HTTP/1.1 101')) return this.#end(`upgrade refused: ${status}`);
      const rest = end + HEADERS_END.length;
      this.#buffer = this.#buffer.length === rest ? EMPTY : this.#buffer.subarray(rest);
      this.phase = 'setting-up';
      this.#afterUpgrade();
    }
    this.#readFrames();
  }

  #afterUpgrade(): void {
    if (this.#request.protocol === 'ws') return this.#ready();
    if (this.#request.protocol === 'herald')
      this.#socket.write(
        textFrame(
          `{"id":1,"connect":{"token":${JSON.stringify(this.#request.token)}}}\n` +
            `{"id":2,"subscribe":{"channel":${JSON.stringify(this.#channel)}}}`,
        ),
      );
    // Socket.IO: the server speaks first (Engine.IO open packet).
  }

  #readFrames(): void {
    for (;;) {
      const buffer = this.#buffer;
      if (buffer.length < 2) return;
      const opcode = (buffer[0] ?? 0) & 0x0f;
      let length = (buffer[1] ?? 0) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      this.#buffer = buffer.length === offset + length ? EMPTY : buffer.subarray(offset + length);
      this.#onFrame(opcode, payload);
      if (this.phase === 'closed') return;
    }
  }

  #onFrame(opcode: number, payload: Buffer): void {
    if (opcode === OP_CLOSE)
      return this.#end(`close frame ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`);
    if (opcode === OP_PING) {
      state.pings += 1;
      this.#socket.write(clientFrame(OP_PONG, payload));
      return;
    }
    if (opcode !== OP_TEXT) return;
    if (this.#request.protocol === 'herald') this.#onHeraldText(payload.toString());
    else this.#onSocketIoText(payload.toString());
  }

  #onHeraldText(text: string): void {
    if (this.phase === 'open') {
      if (text.includes('{"ping"')) {
        state.pings += 1;
        this.#socket.write(HERALD_PONG);
      }
      return;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const message = JSON.parse(line) as { id?: number; error?: unknown; result?: unknown };
      if (message.error !== undefined) return this.#end(`error reply: ${line.slice(0, 200)}`);
      if (message.id === 2 && message.result !== undefined) this.#ready();
    }
  }

  #onSocketIoText(text: string): void {
    // Engine.IO packet types: 0 open, 2 ping, 4 message; Socket.IO: 0 connect, 2 event, 3 ack, 4 error.
    if (text === '2') {
      state.pings += 1;
      this.#socket.write(SOCKET_IO_PONG);
    } else if (this.phase === 'open') return;
    else if (text.startsWith('0')) this.#socket.write(SOCKET_IO_CONNECT);
    else if (text.startsWith('40'))
      this.#socket.write(textFrame(`420${JSON.stringify(['subscribe', this.#channel])}`));
    else if (text.startsWith('430')) this.#ready();
    else if (text.startsWith('44')) this.#end(`connect refused: ${text.slice(0, 200)}`);
  }
}

/** What this process holds. */
const state = {
  connections: [] as Connection[],
  lost: 0,
  lostReasons: [] as string[],
  pings: 0,
  onLost(reason: string) {
    this.lost += 1;
    if (this.lostReasons.length < 5) this.lostReasons.push(reason);
  },
};

function openOne(request: ConnectRequest, index: number): Promise<Connection> {
  const channel = request.channels[index] ?? '';
  const localAddress = request.localAddresses[index % request.localAddresses.length] ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const connection: Connection = new Connection(request, channel, localAddress, (error) => {
      clearTimeout(timer);
      if (error === undefined) resolve(connection);
      else reject(error);
    });
    const timer = setTimeout(
      () => connection.abandon(`not set up within ${request.timeoutMs} ms`),
      request.timeoutMs,
    );
  });
}

async function open(request: ConnectRequest): Promise<ConnectResult> {
  const startedAt = nowMs();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < request.channels.length) {
      const index = next++;
      try {
        state.connections.push(await openOne(request, index));
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
  return {
    opened: request.channels.length - failed,
    failed,
    ...(firstError === undefined ? {} : { firstError }),
    startedAt,
    finishedAt: nowMs(),
  };
}

function hold(): HoldState {
  return {
    open: state.connections.filter((connection) => connection.phase === 'open').length,
    lost: state.lost,
    lostReasons: [...state.lostReasons],
    pings: state.pings,
  };
}

serveRequests({
  open: (request) => open(request as ConnectRequest),
  state: () => hold(),
  close: () => {
    for (const connection of state.connections) connection.destroy();
    state.connections = [];
    return null;
  },
});
