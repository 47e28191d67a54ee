/**
 * A TCP proxy on loopback between Herald and Redis that injects the network faults no connection
 * error reports, for the delivery-health tests and the chaos stall scenario:
 *
 * - {@link FaultProxy.silenceSubscribers}: the connections that subscribed to pub/sub stop receiving
 *   Redis's data, while the node's commands still work — a proxy or NAT that silently drops one
 *   long-lived connection's traffic.
 * - {@link FaultProxy.pause}: every byte in both directions is held, and new connections are not
 *   passed on, until {@link FaultProxy.resume} delivers it all in order — a network stall that TCP
 *   rides out by retransmitting.
 * - {@link FaultProxy.dropConnections}: the connections open now lose everything sent either way, for
 *   good, yet stay open; new connections work — a peer that vanished without a reset (a NAT or load
 *   balancer that forgot the connection, a host that died), which TCP only notices after many minutes.
 *
 * Nothing errors and nothing closes: only the data stops.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** One connection through the proxy: the node's side and Redis's side. */
interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Sent on a pub/sub subscribe command. */
  subscriber: boolean;
  /** Redis's data to the node is discarded. */
  silenced: boolean;
  /** Everything either way is discarded. */
  dropped: boolean;
  /** Data held while paused, in order, per direction. */
  readonly toUpstream: Buffer[];
  readonly toClient: Buffer[];
}

export interface FaultProxy {
  /** `redis://` URL of the proxy. */
  readonly url: string;
  /** Stops passing Redis's data to the connections that have subscribed so far; returns how many. */
  silenceSubscribers(): number;
  /** Holds all traffic, and new connections, until {@link resume}. */
  pause(): void;
  /** Passes on what was held, in order, and lets traffic flow again. */
  resume(): void;
  /** Turns every open connection into a black hole (both directions); returns how many. */
  dropConnections(): number;
  close(): Promise<void>;
}

/** A RESP command whose name (its first bulk string) is SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE. */
const SUBSCRIBE_COMMAND = /\*\d+\r\n\$\d+\r\n[PS]?SUBSCRIBE\r\n/i;

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let paused = false;

  const openUpstream = (pair: Pair) => {
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (pair.dropped || pair.silenced) return;
      if (paused) pair.toClient.push(chunk);
      else pair.client.write(chunk);
    });
    upstream.on('close', () => end(pair)).on('error', () => end(pair));
    for (const chunk of pair.toUpstream.splice(0)) upstream.write(chunk);
  };
  const end = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const server: Server = createServer((client) => {
    const pair: Pair = {
      client,
      upstream: undefined,
      subscriber: false,
      silenced: false,
      dropped: false,
      toUpstream: [],
      toClient: [],
    };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (SUBSCRIBE_COMMAND.test(chunk.toString('latin1'))) pair.subscriber = true;
      if (pair.dropped) return;
      if (paused || pair.upstream === undefined) pair.toUpstream.push(chunk);
      else pair.upstream.write(chunk);
    });
    client.on('close', () => end(pair)).on('error', () => end(pair));
    // While paused, the connection is accepted but goes nowhere, like a SYN lost in a stalled network.
    if (!paused) openUpstream(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    url: `redis://127.0.0.1:${port}`,
    silenceSubscribers() {
      let count = 0;
      for (const pair of pairs) {
        if (pair.subscriber && !pair.silenced && !pair.dropped) {
          pair.silenced = true;
          count += 1;
        }
      }
      return count;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const pair of pairs) {
        if (pair.upstream === undefined) {
          openUpstream(pair);
          continue;
        }
        for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
        for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
      }
    },
    dropConnections() {
      let count = 0;
      for (const pair of pairs) {
        if (pair.dropped) continue;
        pair.dropped = true;
        pair.toUpstream.length = 0;
        pair.toClient.length = 0;
        count += 1;
      }
      return count;
    },
    close: () =>
      new Promise((resolve) => {
        for (const pair of pairs) end(pair);
        server.close(() => resolve());
      }),
  };
}
