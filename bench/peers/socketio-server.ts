/**
 * The Socket.IO 4.8 peer: what a team would write with Socket.IO to do Herald's job. Clients connect
 * over WebSocket only and join a room per channel (`subscribe` event, acknowledged); an HTTP
 * `POST /publish` with `{"publications": [{"channel", "data"}, …]}` emits each publication to its
 * room as a `message` event, the way an app back end would. With `REDIS_URL` (or
 * `REDIS_CLUSTER_NODES`, sharded pub/sub) the `@socket.io/redis-adapter` carries emits to the other
 * nodes. `GET /readyz` answers 200 once listening (and connected to Redis).
 *
 *   PORT=9000 [REDIS_URL=redis://127.0.0.1:6379 | REDIS_CLUSTER_NODES=127.0.0.1:7000,…] \
 *     node bin/run-ts.js bench/peers/socketio-server.ts
 */
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient, createCluster } from 'redis';
import { createPeerServer, PEER_BACKLOG } from './http.ts';

const port = Number(process.env['PORT'] ?? 9000);
const redisUrl = process.env['REDIS_URL'];
const clusterNodes = process.env['REDIS_CLUSTER_NODES'];

const http = createPeerServer((channel, data) => io.to(channel).emit('message', data));

const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  // Socket.IO's own heartbeat, as shipped: a ping every 25 s.
});

if (clusterNodes !== undefined) {
  const rootNodes = clusterNodes.split(',').map((address) => ({ url: `redis://${address}` }));
  const pubClient = createCluster({ rootNodes });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createShardedAdapter(pubClient, subClient));
} else if (redisUrl !== undefined) {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

io.on('connection', (socket) => {
  socket.on('subscribe', (channel: unknown, ack: unknown) => {
    if (typeof channel === 'string') void socket.join(channel);
    if (typeof ack === 'function') (ack as (ok: boolean) => void)(typeof channel === 'string');
  });
});

http.listen(port, '127.0.0.1', PEER_BACKLOG, () => console.error(`socket.io peer listening on ${port}`));
process.on('SIGTERM', () => process.exit(0));
