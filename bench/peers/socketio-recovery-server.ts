/**
 * The Socket.IO 4.8 peer with connection state recovery on, for the `recovery` scenario: the same
 * server as `socketio-server.ts` (clients join a room per channel with a `subscribe` event; `POST
 * /publish` emits each publication to its room as a `message` event) plus `connectionStateRecovery`,
 * Socket.IO's own answer to missed messages. With it, the default in-memory adapter keeps every
 * broadcast event for `maxDisconnectionDuration` and appends an offset to it as its last argument;
 * a client that reconnects with `40{"pid","offset"}` within that time gets its rooms back and every
 * event it missed, before the connect reply. One node only: `@socket.io/redis-adapter` (the adapter
 * the other scenarios use between nodes) does not implement recovery.
 *
 *   PORT=9000 node bin/run-ts.js bench/peers/socketio-recovery-server.ts
 */
import { Server } from 'socket.io';
import { createPeerServer, PEER_BACKLOG } from './http.ts';

const port = Number(process.env['PORT'] ?? 9000);

const http = createPeerServer((channel, data) => io.to(channel).emit('message', data));

const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  connectionStateRecovery: {
    // Socket.IO's defaults, written out: sessions and events are kept for 2 minutes, and a recovered
    // client skips the middlewares (there are none here).
    maxDisconnectionDuration: 2 * 60_000,
    skipMiddlewares: true,
  },
});

io.on('connection', (socket) => {
  socket.on('subscribe', (channel: unknown, ack: unknown) => {
    if (typeof channel === 'string') void socket.join(channel);
    if (typeof ack === 'function') (ack as (ok: boolean) => void)(typeof channel === 'string');
  });
});

http.listen(port, '127.0.0.1', PEER_BACKLOG, () =>
  console.error(`socket.io recovery peer listening on ${port}`),
);
process.on('SIGTERM', () => process.exit(0));
