/**
 * A raw HTTP/1.1 client for the API fuzzer: every byte of the request is ours (garbled headers,
 * wrong lengths, any method), and the answer is read as sent, without a library smoothing it over.
 */
import { connect as netConnect } from 'node:net';

export interface RawResponse {
  /** 0 when nothing came back. */
  readonly status: number;
  /**
   * The server closed the connection before the request was fully written, with no answer read: HTTP
   * lets a server refuse an oversized body that way, and the kernel may drop an answer it had sent.
   */
  readonly resetWhileSending?: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query, sent as given. */
  readonly target: string;
  /** Header lines, sent as given (`Host` and `Connection: close` are added). */
  readonly headers?: readonly string[];
  readonly body?: Buffer | string;
  /** Sets Content-Length from the body (default true when there is a body). */
  readonly contentLength?: boolean;
  /** A Content-Length to declare instead of the body's. */
  readonly declaredLength?: number;
}

const TIMEOUT_MS = 10_000;

/** Sends a request on a new connection; resolves with the answer, or undefined if none came. */
export function rawRequest(port: number, request: RawRequest): Promise<RawResponse | undefined> {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const lines = [`${request.method} ${request.target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  lines.push(...(request.headers ?? []));
  if (request.declaredLength !== undefined) lines.push(`Content-Length: ${request.declaredLength}`);
  else if (body !== undefined && request.contentLength !== false)
    lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return sendRaw(port, body === undefined ? head : Buffer.concat([head, body]));
}

/** Writes bytes on a new connection and parses what comes back before it closes. */
export function sendRaw(port: number, bytes: Buffer): Promise<RawResponse | undefined> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let written = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const response = parseResponse(Buffer.concat(chunks));
      resolve(
        response ?? (written ? undefined : { status: 0, headers: {}, body: '', resetWhileSending: true }),
      );
    };
    const timer = setTimeout(done, TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A complete answer is enough: a server refusing a large body early need not read it all.
      if (parseResponse(Buffer.concat(chunks), true) !== undefined) done();
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes, (err) => (written = err === undefined || err === null));
  });
}

/** Parses an HTTP/1.1 response; with `complete`, only when its body has fully arrived. */
function parseResponse(bytes: Buffer, complete = false): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...headerLines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const decoded = dechunk(body);
    if (decoded === undefined && complete) return undefined;
    body = decoded ?? body;
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (complete && body.length < length) return undefined;
    body = body.subarray(0, length);
  } else if (complete) {
    return undefined; // read until the connection closes
  }
  return { status, headers, body: body.toString('utf8') };
}

/** The body of a chunked message, or undefined while its last chunk has not arrived. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (bytes.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
