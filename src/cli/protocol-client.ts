/**
 * A minimal Node client for the Herald protocol over WebSocket, used by `herald subscribe` and the
 * tests: correlates replies to commands, answers server pings, and surfaces pushes. It does not
 * reconnect; applications should use the client SDK.
 */
import WebSocket, { type ClientOptions } from 'ws';
import {
  SUBPROTOCOL,
  splitFrame,
  type Commands,
  type ErrorPayload,
  type Method,
  type PublicationFrame,
} from '@herald/protocol';

/** A command's error reply. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: number;
  readonly temporary: boolean;

  constructor(payload: ErrorPayload) {
    super(payload.message);
    this.code = payload.code;
    this.temporary = payload.temporary === true;
  }
}

export interface ProtocolClientOptions {
  /** Sent as the Origin header (browsers always send one). */
  readonly origin?: string;
  /** More headers for the HTTP upgrade request (tests send the dashboard's cookie). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Subprotocols to offer; default `herald.v1.json`. */
  readonly protocols?: readonly string[];
  /** Answer server pings (default true); tests turn it off to provoke a no-pong disconnect. */
  readonly autoPong?: boolean;
  /** Opens the TCP connection (tests use it to hold the socket and stop reading). */
  readonly createConnection?: ClientOptions['createConnection'];
}

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
}

type PublicationListener = (channel: string, publication: PublicationFrame) => void;
type MessageListener = (message: Record<string, unknown>) => void;

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

export class ProtocolClient {
  readonly ws: WebSocket;
  /** Resolves when the connection closes. */
  readonly closed: Promise<CloseEvent>;
  readonly #pending = new Map<number, Pending>();
  readonly #publicationListeners: PublicationListener[] = [];
  readonly #messageListeners: MessageListener[] = [];
  readonly #autoPong: boolean;
  #nextId = 1;

  private constructor(ws: WebSocket, autoPong: boolean) {
    this.ws = ws;
    this.#autoPong = autoPong;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        const error = new Error(`connection closed (${code} ${reason.toString()})`);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('message', (data) => this.#receive(data.toString()));
  }

  /** Opens a connection to a WebSocket URL (ws://host:port/connection/websocket). */
  static open(url: string, options: ProtocolClientOptions = {}): Promise<ProtocolClient> {
    const ws = new WebSocket(url, [...(options.protocols ?? [SUBPROTOCOL])], {
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
      ...(options.createConnection === undefined ? {} : { createConnection: options.createConnection }),
    });
    const client = new ProtocolClient(ws, options.autoPong ?? true);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_request, response) => {
        reject(new Error(`handshake refused: HTTP ${response.statusCode}`));
        ws.terminate();
      });
    });
  }

  /** Sends a command and resolves with its result, or rejects with a ProtocolError. */
  call<M extends Method>(method: M, params: Commands[M][0]): Promise<Commands[M][1]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.sendRaw(JSON.stringify({ id, [method]: params }));
    });
  }

  /** Sends text as one frame, unchanged (several messages may be joined with newlines). */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  onPublication(listener: PublicationListener): void {
    this.#publicationListeners.push(listener);
  }

  /** Every message received, after it was parsed (replies included). */
  onMessage(listener: MessageListener): void {
    this.#messageListeners.push(listener);
  }

  close(): void {
    this.ws.close(1000);
  }

  #receive(frame: string): void {
    for (const line of splitFrame(frame)) {
      const message = JSON.parse(line) as Record<string, unknown>;
      for (const listener of this.#messageListeners) listener(message);
      this.#dispatch(message);
    }
  }

  #dispatch(message: Record<string, unknown>): void {
    if ('ping' in message) {
      if (this.#autoPong) this.sendRaw('{"pong":{}}');
      return;
    }
    const push = message['push'] as { channel?: string; pub?: PublicationFrame } | undefined;
    if (push !== undefined) {
      if (push.pub !== undefined && push.channel !== undefined) {
        for (const listener of this.#publicationListeners) listener(push.channel, push.pub);
      }
      return;
    }
    const id = message['id'];
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    if (pending === undefined || typeof id !== 'number') return;
    this.#pending.delete(id);
    if ('error' in message) pending.reject(new ProtocolError(message['error'] as ErrorPayload));
    else pending.resolve(message['result']);
  }
}
