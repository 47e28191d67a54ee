/** Small tools shared by the security suite: error replies, raw sockets and hand-made tokens. */
import { createHmac } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { ProtocolClient, ProtocolError, type ProtocolClientOptions } from '../../src/cli/protocol-client.ts';

/** The error reply a command gets; fails the test if it succeeds or fails otherwise. */
export async function errorOf(promise: Promise<unknown>): Promise<ProtocolError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('expected an error reply');
}

/** The HTTP status of a refused WebSocket handshake, or 101 if the server accepted it. */
export async function handshakeStatus(url: string, options: ProtocolClientOptions = {}): Promise<number> {
  try {
    const client = await ProtocolClient.open(url, options);
    client.ws.terminate();
    return 101;
  } catch (err) {
    const status = /HTTP (\d{3})/.exec((err as Error).message)?.[1];
    if (status === undefined) throw err;
    return Number(status);
  }
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT signed with HMAC-SHA256 over `key`, whatever `key` is: to forge the tokens an attacker would. */
export function hs256(payload: Record<string, unknown>, key: string | Buffer, header: object = {}): string {
  const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT', ...header })}.${base64url(payload)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

/** A token with another header or payload glued to the signature of `token`. */
export function withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64url(payload)}.${signature}`;
}

/** A token with header `alg` and no signature, as an attacker would send for `alg: none`. */
export function unsigned(payload: Record<string, unknown>, alg = 'none'): string {
  return `${base64url({ alg, typ: 'JWT' })}.${base64url(payload)}.`;
}

/** Opens a plain TCP connection to the server. */
export async function rawSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return socket;
}

/** Everything the server sends on `socket` until it closes the connection, and when it did. */
export function collectUntilClosed(socket: Socket): Promise<{ text: string; closedAt: number }> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  // An EPIPE or reset from writing to a socket the server closed is the expected end, not a failure.
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve({ text, closedAt: Date.now() })));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens a WebSocket by hand on a raw TCP socket (offering Herald's subprotocol), so a test can send
 * frames no well-behaved library would: lengths it never delivers, endless fragments, control floods.
 * Resolves once the server has answered 101.
 */
export async function rawWebSocket(port: number): Promise<Socket> {
  const socket = await rawSocket(port);
  socket.write(
    'GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: herald.v1.json\r\n\r\n',
  );
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
  return socket;
}

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

/**
 * A masked client frame (RFC 6455 §5.2). `declaredLength` lets the header announce a length other
 * than the payload's, as an attacker would.
 */
export function clientFrame(
  opcode: number,
  payload: Buffer,
  { fin = true, declaredLength = payload.length }: { fin?: boolean; declaredLength?: number } = {},
): Buffer {
  const lengthBytes = declaredLength < 126 ? 0 : declaredLength < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + 4);
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (lengthBytes === 0) header[1] = 0x80 | declaredLength;
  else if (lengthBytes === 2) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(declaredLength, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(declaredLength), 2);
  }
  // A zero mask leaves the payload as it is: the server unmasks it all the same.
  return Buffer.concat([header, payload]);
}

/** The close code in the first close frame the server sent in `text` (latin1), if any. */
export function serverCloseCode(text: string): number | undefined {
  const bytes = Buffer.from(text, 'latin1');
  for (let at = 0; at + 2 <= bytes.length;) {
    const opcode = (bytes[at] ?? 0) & 0x0f;
    let length = (bytes[at + 1] ?? 0) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      start += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      start += 8;
    }
    if (opcode === OPCODE.close) return length >= 2 ? bytes.readUInt16BE(start) : undefined;
    at = start + length;
  }
  return undefined;
}
