/**
 * A tiny round-robin TCP load balancer for tests, like nginx's stream proxy: each accepted connection
 * goes to the next backend in turn; a backend that refuses the connection (a node that stopped
 * listening) is skipped for that connection, and when every backend refuses, the client's connection
 * is dropped. Bytes pass through untouched both ways, so HTTP, SSE and WebSocket all work through it.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface Backend {
  readonly host: string;
  readonly port: number;
}

export interface TcpBalancer {
  /** `127.0.0.1:<port>` of the balancer. */
  readonly host: string;
  readonly port: number;
  /** Connections forwarded to each backend so far, by the backend's index. */
  readonly forwarded: readonly number[];
  /** Connection attempts each backend refused, by index. */
  readonly refused: readonly number[];
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

export async function startTcpBalancer(backends: readonly Backend[]): Promise<TcpBalancer> {
  const forwarded = backends.map(() => 0);
  const refused = backends.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  /** Connects `client` to the first backend, from `start` on, that accepts; `tried` counts attempts. */
  const forward = (client: Socket, start: number, tried: number): void => {
    if (tried >= backends.length || client.destroyed) {
      client.destroy();
      return;
    }
    const index = start % backends.length;
    const backend = backends[index] as Backend;
    const upstream = connect({ host: backend.host, port: backend.port });
    track(upstream);
    upstream.once('error', () => {
      refused[index] = (refused[index] ?? 0) + 1;
      forward(client, start + 1, tried + 1);
    });
    upstream.once('connect', () => {
      forwarded[index] = (forwarded[index] ?? 0) + 1;
      upstream.removeAllListeners('error');
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      // Either side ending or failing ends the other: a proxy keeps no half-dead pairs.
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  };

  const server = createServer((client) => {
    track(client);
    client.on('error', () => client.destroy());
    forward(client, next++, 0);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    forwarded,
    refused,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
