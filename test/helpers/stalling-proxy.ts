/**
 * A TCP proxy on loopback between Herald and Redis that can stall the connections that subscribed to
 * pub/sub: it keeps them open but stops passing Redis's data on, like a proxy or NAT that silently
 * drops a long-lived connection's traffic. Nothing errors and nothing closes; only the data stops.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  subscriber: boolean;
  stalled: boolean;
}

export interface StallingProxy {
  readonly url: string;
  /** Stops passing Redis's data to the connections that have subscribed so far. */
  stallSubscribers(): number;
  close(): Promise<void>;
}

export async function startStallingProxy(target: { host: string; port: number }): Promise<StallingProxy> {
  const pairs = new Set<Pair>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, subscriber: false, stalled: false };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (/SUBSCRIBE/i.test(chunk.toString('latin1'))) pair.subscriber = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!pair.stalled) client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    stallSubscribers() {
      let count = 0;
      for (const pair of pairs) {
        if (pair.subscriber && !pair.stalled) {
          pair.stalled = true;
          count += 1;
        }
      }
      return count;
    },
    close: () =>
      new Promise((resolve) => {
        for (const pair of pairs) {
          pair.client.destroy();
          pair.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
