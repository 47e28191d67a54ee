/**
 * The WebSocket transport at /connection/websocket: upgrades HTTP connections that offer the
 * `herald.v1.json` subprotocol and come from an allowed origin, and feeds text frames to a session.
 * Frame size is enforced by `ws` while parsing (close code 1009), before a large frame is buffered.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { DisconnectCode, SUBPROTOCOL } from '@herald/protocol';
import { ClientSession, type Transport } from '../node/client-session.ts';
import type { HeraldNode } from '../node/node.ts';
import type { DashboardSessions } from '../ops/dashboard-session.ts';
import { fromDashboard, originAllowed } from './origin.ts';
import { FrameCache } from './websocket-frame.ts';

export const WEBSOCKET_PATH = '/connection/websocket';
/** How long a closed connection waits for the client's close frame before the socket is dropped. */
const CLOSE_HANDSHAKE_MS = 2000;

export class WebSocketTransport {
  readonly #wss: WebSocketServer;
  readonly #node: HeraldNode;
  readonly #frames = new FrameCache();
  readonly #dashboard: DashboardSessions | undefined;

  constructor(node: HeraldNode, dashboard?: DashboardSessions) {
    this.#node = node;
    this.#dashboard = dashboard;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: node.config.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  /** Handles the HTTP server's upgrade requests. */
  attach(server: Server): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#upgrade(request, socket, head);
    });
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error listener before the upgrade event: without one, a client that resets
    // the connection while we answer would crash the process with an unhandled 'error' event.
    const destroy = () => socket.destroy();
    socket.on('error', destroy);
    const path = (request.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH) return reject(socket, 404, 'no WebSocket endpoint at this path');
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(SUBPROTOCOL)) return reject(socket, 400, `offer the subprotocol ${SUBPROTOCOL}`);
    if (!originAllowed(request, this.#node.config.allowedOrigins)) {
      this.#node.logger.info(
        { origin: request.headers.origin },
        'connection from a disallowed origin refused',
      );
      return reject(socket, 403, 'origin not allowed');
    }
    const dashboard = fromDashboard(request, this.#dashboard);
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      // `ws` has its own error listener on the socket now; ours would cost memory per connection.
      socket.off('error', destroy);
      this.#accept(ws, socket, dashboard);
    });
  }

  #accept(ws: WebSocket, socket: Duplex, dashboard: number | undefined): void {
    const session = new ClientSession(
      this.#node,
      new WebSocketConnection(ws, socket, this.#frames),
      'websocket',
      dashboard,
    );
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        session.disconnect(DisconnectCode.BAD_REQUEST, 'binary frames are not supported');
        return;
      }
      session.receive(data.toString());
    });
    ws.on('close', () => session.onTransportClosed());
    ws.on('error', (err) => {
      this.#node.logger.debug({ err, client: session.id }, 'websocket error');
      session.onTransportClosed();
    });
    this.#node.acceptSession(session);
  }
}

/**
 * A session's transport over one WebSocket. Outgoing messages are framed by {@link FrameCache} and
 * written straight to the socket `ws` runs on: the same frame bytes for every subscriber of a
 * publication. This bypasses `ws.send`, which is safe because Herald's sockets never compress or send
 * Blobs, the only cases in which `ws` queues frames instead of writing them at once; its close and
 * pong frames still go through `ws`, in order with ours. A class rather than an object of closures:
 * with thousands of connections the closures and their per-object property tables cost about 1.5 KB
 * per connection.
 */
class WebSocketConnection implements Transport {
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #frames: FrameCache;

  constructor(ws: WebSocket, socket: Duplex, frames: FrameCache) {
    this.#ws = ws;
    this.#socket = socket;
    this.#frames = frames;
  }

  send(payload: Buffer): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#socket.write(this.#frames.frameOf(payload));
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  get answersPings(): boolean {
    return true;
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
    // `ws` waits up to 30 s for the peer's close frame; a dead peer must not hold a shutdown that long.
    setTimeout(() => this.#ws.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }

  terminate(): void {
    this.#ws.terminate();
  }
}

function reject(socket: Duplex, status: number, message: string): void {
  const reason = status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}
