/**
 * The protocol fuzzer's connections below the WebSocket library: a raw socket that completes the
 * handshake and then sends one malformed frame (unmasked, reserved bits or opcodes, bad lengths, bad
 * close frames, invalid UTF-8), which must close the connection with the matching standard code; and
 * handshakes that must be refused with a 4xx (wrong path, subprotocol, origin, key, version, method).
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { SUBPROTOCOL } from '@herald/protocol';
import { deriveSeed, Rng } from './prng.ts';
import type { Tally } from './tally.ts';

/** WebSocket close codes `ws` uses for framing errors (RFC 6455 section 7.4.1). */
export const WS_PROTOCOL_ERROR = 1002;
export const WS_INVALID_PAYLOAD = 1007;
export const WS_MESSAGE_TOO_BIG = 1009;
const CLOSE_TIMEOUT_MS = 5_000;

/** What a raw connection reports to the fuzzer. */
export interface RawContext {
  readonly port: number;
  readonly seed: number;
  readonly maxFrameBytes: number;
  /** The connection's number: with the seed, it picks the attack. */
  readonly index: number;
  /** Counts a frame (or request) sent, by kind. */
  sent(kind: string): void;
  readonly closes: Tally;
  readonly handshakes: Tally;
  violation(what: string, detail: string): void;
}

/** A raw WebSocket connection that sends one malformed frame: it must be closed with the frame's code. */
export async function runRawFraming(context: RawContext): Promise<void> {
  const { port, seed, maxFrameBytes, index } = context;
  const attack = rawFrame(seed, index, maxFrameBytes);
  const socket = netConnect(port, '127.0.0.1');
  const reader = new SocketReader(socket);
  try {
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\n\r\n`,
    );
    const head = await reader.until((buffer) => buffer.indexOf('\r\n\r\n'), CLOSE_TIMEOUT_MS);
    if (head === undefined || !head.toString().startsWith('HTTP/1.1 101')) {
      context.violation(
        'handshake failed',
        `raw handshake answered ${head?.toString().split('\r\n')[0] ?? 'nothing'}`,
      );
      return;
    }
    socket.write(attack.bytes);
    context.sent(`raw:${attack.name}`);
    const code = await reader.closeCode(CLOSE_TIMEOUT_MS);
    context.closes.add(code === undefined ? 'no close frame' : String(code));
    if (code !== attack.closes) {
      context.violation(
        'wrong close code',
        `raw ${attack.name} closed with ${String(code)}, expected ${attack.closes}`,
      );
    }
  } finally {
    socket.destroy();
  }
}

/** A WebSocket handshake that must be refused with a 4xx. */
export async function runBadHandshake(context: RawContext): Promise<void> {
  const { port, seed, index } = context;
  const attempt = badHandshake(seed, index);
  const socket = netConnect(port, '127.0.0.1');
  const reader = new SocketReader(socket);
  try {
    socket.write(attempt.request);
    context.sent(`handshake:${attempt.name}`);
    const head = await reader.until((buffer) => buffer.indexOf('\r\n'), CLOSE_TIMEOUT_MS);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head?.toString() ?? '')?.[1] ?? 0);
    context.handshakes.add(`${attempt.name} ${status}`);
    if (status < 400 || status >= 500) {
      context.violation('handshake answer', `${attempt.name} answered ${status === 0 ? 'nothing' : status}`);
    }
  } finally {
    socket.destroy();
  }
}

/** A malformed WebSocket frame written on a raw socket, and the close code it must cause. */
export interface RawFrame {
  readonly name: string;
  readonly bytes: Buffer;
  readonly closes: number;
}

/** The raw-framing attack of a connection. */
export function rawFrame(seed: number, index: number, maxFrameBytes: number): RawFrame {
  const rng = new Rng(deriveSeed(seed, index) ^ 0x1b873593);
  const hello = Buffer.from('{"id":1,"ping":{}}');
  const variants: RawFrame[] = [
    { name: 'unmasked', bytes: Buffer.concat([Buffer.from([0x81, hello.length]), hello]), closes: 1002 },
    { name: 'rsv1', bytes: masked(0xc1, hello), closes: WS_PROTOCOL_ERROR },
    { name: 'rsv2', bytes: masked(0xa1, hello), closes: WS_PROTOCOL_ERROR },
    { name: 'opcode-3', bytes: masked(0x83, hello), closes: WS_PROTOCOL_ERROR },
    { name: 'opcode-b', bytes: masked(0x8b, hello), closes: WS_PROTOCOL_ERROR },
    { name: 'continuation-first', bytes: masked(0x80, hello), closes: WS_PROTOCOL_ERROR },
    { name: 'fragmented-ping', bytes: masked(0x09, Buffer.from('x')), closes: WS_PROTOCOL_ERROR },
    { name: 'long-ping', bytes: masked(0x89, Buffer.alloc(126, 0x61)), closes: WS_PROTOCOL_ERROR },
    {
      name: 'text-then-text',
      bytes: Buffer.concat([masked(0x01, hello), masked(0x81, hello)]),
      closes: WS_PROTOCOL_ERROR,
    },
    { name: 'close-1-byte', bytes: masked(0x88, Buffer.from([0x03])), closes: WS_PROTOCOL_ERROR },
    {
      name: 'close-bad-code',
      bytes: masked(0x88, closePayload(rng.pick([0, 999, 1004, 1005, 1006, 1015, 2999, 5000]))),
      closes: WS_PROTOCOL_ERROR,
    },
    {
      name: 'close-bad-utf8',
      bytes: masked(0x88, Buffer.concat([closePayload(1000), Buffer.from([0xff, 0xfe])])),
      closes: WS_INVALID_PAYLOAD,
    },
    { name: 'text-bad-utf8', bytes: masked(0x81, Buffer.from([0x7b, 0xc0, 0xaf, 0x7d])), closes: 1007 },
    { name: 'length-2^63', bytes: lengthHeader(0x81, 2n ** 63n), closes: WS_MESSAGE_TOO_BIG },
    { name: 'length-over-limit', bytes: lengthHeader(0x81, BigInt(maxFrameBytes + 1)), closes: 1009 },
  ];
  return rng.pick(variants);
}

function closePayload(code: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(code);
  return out;
}

/** A client frame (masked, as clients must send) with the given first byte. */
function masked(first: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const header =
    payload.length < 126
      ? Buffer.from([first, 0x80 | payload.length])
      : Buffer.from([first, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const body = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, body]);
}

/** A masked frame header declaring a 64-bit payload length (the payload is never sent). */
function lengthHeader(first: number, length: bigint): Buffer {
  const header = Buffer.alloc(14);
  header[0] = first;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(length, 2);
  header.writeUInt32BE(0x12345678, 10);
  return header;
}

/** A refused WebSocket handshake: the request line and headers to send. */
export function badHandshake(
  seed: number,
  index: number,
): { readonly name: string; readonly request: string } {
  const rng = new Rng(deriveSeed(seed, index) ^ 0x27d4eb2f);
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const base = (lines: string[], path = '/connection/websocket', method = 'GET') =>
    [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...lines, '', ''].join('\r\n');
  const ok = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13'];
  const variants = [
    {
      name: 'wrong-path',
      request: base(
        [...ok, `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Protocol: herald.v1.json'],
        '/connection/websocketx',
      ),
    },
    { name: 'no-subprotocol', request: base([...ok, `Sec-WebSocket-Key: ${key}`]) },
    {
      name: 'other-subprotocol',
      request: base([...ok, `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Protocol: herald.v2.json']),
    },
    {
      name: 'foreign-origin',
      request: base([
        ...ok,
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Protocol: herald.v1.json',
        'Origin: https://evil.example',
      ]),
    },
    { name: 'no-key', request: base([...ok, 'Sec-WebSocket-Protocol: herald.v1.json']) },
    {
      name: 'bad-key',
      request: base([...ok, 'Sec-WebSocket-Key: short', 'Sec-WebSocket-Protocol: herald.v1.json']),
    },
    {
      name: 'version-12',
      request: base([
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 12',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Protocol: herald.v1.json',
      ]),
    },
    {
      name: 'post',
      request: base(
        [...ok, `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Protocol: herald.v1.json'],
        '/connection/websocket',
        'POST',
      ),
    },
    {
      name: 'upgrade-foo',
      request: base([
        'Upgrade: foo',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Protocol: herald.v1.json',
      ]),
    },
  ];
  return rng.pick(variants);
}

/** Reads a raw socket: bytes up to a delimiter, then the server's WebSocket frames. */
class SocketReader {
  #buffer = Buffer.alloc(0);
  #ended = false;
  #notify: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#notify?.();
    });
    const end = () => {
      this.#ended = true;
      this.#notify?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /** The bytes up to (and including) the 4-byte delimiter `find` locates; undefined on timeout or end. */
  async until(find: (buffer: Buffer) => number, timeoutMs: number): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = find(this.#buffer);
      if (at !== -1) {
        const head = this.#buffer.subarray(0, at + 4);
        this.#buffer = this.#buffer.subarray(at + 4);
        return head;
      }
      if (this.#ended || Date.now() > deadline) return undefined;
      await this.#wait(deadline);
    }
  }

  /** The code of the server's close frame, skipping its other frames; undefined if none came. */
  async closeCode(timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = serverFrame(this.#buffer);
      if (frame !== undefined) {
        this.#buffer = this.#buffer.subarray(frame.length);
        if (frame.opcode === 0x8) return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        continue;
      }
      if (this.#ended || Date.now() > deadline) return undefined;
      await this.#wait(deadline);
    }
  }

  #wait(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
      this.#notify = () => {
        clearTimeout(timer);
        this.#notify = undefined;
        resolve();
      };
    });
  }
}

/** One unmasked server frame at the start of `buffer`, or undefined when it is incomplete. */
function serverFrame(buffer: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (buffer.length < 2) return undefined;
  const opcode = (buffer[0] as number) & 0x0f;
  let length = (buffer[1] as number) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return undefined;
  return { opcode, payload: buffer.subarray(offset, offset + length), length: offset + length };
}
