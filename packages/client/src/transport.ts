/**
 * How the client reaches the server. The client knows transports only through this interface, so a
 * browser's native `WebSocket`, the `ws` package in Node.js, or the SSE transport can carry the same
 * protocol.
 */
import { SUBPROTOCOL } from '@herald/protocol';

export type TransportName = 'websocket' | 'sse';

export interface TransportEvents {
  /** The connection is open: commands may be sent. */
  open(): void;
  /** One frame from the server: one or more messages separated by "\n". */
  frame(text: string): void;
  /** The connection closed (or could not open); called once, after which the transport is dead. */
  close(code: number, reason: string): void;
}

export interface Transport {
  readonly name: TransportName;
  /** Sends one frame of commands. */
  send(frame: string): void;
  /**
   * Closes the connection and reports `close` with this code and reason (the socket itself is closed
   * with 1000: browsers accept no other code below 3000).
   */
  close(code: number, reason: string): void;
}

/**
 * An event handler property. Declared through a method so that implementations whose handlers take a
 * richer event type (the DOM's, or `ws`'s) still fit.
 */
type Handler<E> = { handle(event: E): void }['handle'];

/** The part of the WebSocket API the client uses: the browser's `WebSocket` and `ws` both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols: string | string[]) => WebSocketLike;

const OPEN = 1;
/** Close code 1006 is reserved for "closed abnormally" and cannot be sent: report it for failed opens. */
const ABNORMAL_CLOSURE = 1006;

export function openWebSocket(
  url: string,
  WebSocket: WebSocketConstructor,
  events: TransportEvents,
): Transport {
  let closed = false;
  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    // The error handler stays: `ws` reports closing a socket that is still connecting as an error.
    socket.onopen = socket.onmessage = socket.onclose = null;
    events.close(code, reason);
  };
  let socket: WebSocketLike;
  try {
    socket = new WebSocket(url, SUBPROTOCOL);
  } catch (err) {
    // A malformed URL throws synchronously; report it like any failed connection attempt.
    const reason = err instanceof Error ? err.message : String(err);
    queueMicrotask(() => events.close(ABNORMAL_CLOSURE, reason));
    return { name: 'websocket', send: () => undefined, close: () => undefined };
  }
  socket.onopen = () => events.open();
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') events.frame(event.data);
  };
  socket.onclose = (event) => finish(event.code, event.reason);
  // An error is always followed by a close event, which says what happened.
  socket.onerror = () => undefined;
  return {
    name: 'websocket',
    send(frame) {
      if (socket.readyState === OPEN) socket.send(frame);
    },
    close(code, reason) {
      try {
        socket.close(1000);
      } finally {
        finish(code, reason);
      }
    },
  };
}
