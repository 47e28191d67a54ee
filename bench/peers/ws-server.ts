/**
 * The raw `ws` ceiling: a broadcast server with no broker, no protocol, no history and no checks,
 * the most a Node process on this machine can deliver. Clients connect to `/?channel=<name>`;
 * `POST /publish` with `{"publications": [{"channel", "data"}, …]}` sends each publication's data,
 * serialised once, to every socket of its channel.
 *
 *   MODE=frame  one WebSocket frame per message
 *   MODE=batch  the messages a channel got in one event-loop turn leave as one frame, joined by "\n"
 *               (what Herald does; with the suite's publisher that is 10 messages per frame)
 *
 *   PORT=9100 MODE=batch node bin/run-ts.js bench/peers/ws-server.ts
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { createPeerServer, PEER_BACKLOG } from './http.ts';

const port = Number(process.env['PORT'] ?? 9100);
const batched = process.env['MODE'] === 'batch';
const NEWLINE = Buffer.from('\n');

const channels = new Map<string, Set<WebSocket>>();
/** Batch mode: what each channel got during this turn. */
let pending = new Map<string, Buffer[]>();
let flushScheduled = false;

function sendToChannel(channel: string, frame: Buffer): void {
  const sockets = channels.get(channel);
  if (sockets === undefined) return;
  for (const socket of sockets) socket.send(frame, { binary: false });
}

function flush(): void {
  const turn = pending;
  pending = new Map();
  flushScheduled = false;
  for (const [channel, messages] of turn) {
    const parts: Buffer[] = [];
    for (const message of messages) {
      if (parts.length > 0) parts.push(NEWLINE);
      parts.push(message);
    }
    sendToChannel(channel, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
  }
}

function publish(channel: string, data: unknown): void {
  const message = Buffer.from(JSON.stringify(data));
  if (!batched) return sendToChannel(channel, message);
  let queue = pending.get(channel);
  if (queue === undefined) pending.set(channel, (queue = []));
  queue.push(message);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

const http = createPeerServer(publish);

const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (socket, request) => {
  const channel = new URL(request.url ?? '/', 'http://localhost').searchParams.get('channel') ?? '';
  let sockets = channels.get(channel);
  if (sockets === undefined) channels.set(channel, (sockets = new Set()));
  sockets.add(socket);
  socket.on('close', () => {
    sockets.delete(socket);
    if (sockets.size === 0) channels.delete(channel);
  });
  socket.on('error', () => socket.terminate());
});

http.listen(port, '127.0.0.1', PEER_BACKLOG, () =>
  console.error(`ws peer (${batched ? 'batch' : 'frame'}) listening on ${port}`),
);
process.on('SIGTERM', () => process.exit(0));
