/**
 * Client behaviour that a real server cannot be made to show on demand, against a scripted fake
 * WebSocket: a push in the same frame as its subscribe reply, a long-lived token, a broken message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Herald } from './client.ts';
import type { WebSocketLike } from './transport.ts';

class FakeSocket implements WebSocketLike {
  static last: FakeSocket | undefined;
  readyState = 0;
  readonly sent: string[] = [];
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor(_url: string, _protocols: string | string[]) {
    FakeSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }
  send(data: string): void {
    this.sent.push(...data.split('\n'));
  }
  close(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1000, reason: '' });
  }
  /** The server sends one frame. */
  frame(...messages: unknown[]): void {
    this.onmessage?.({
      data: messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join('\n'),
    });
  }
  /** The ids of the commands sent for `method`. */
  idsOf(method: string): number[] {
    return this.sent
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((command) => method in command)
      .map((command) => command['id'] as number);
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const clients: Herald[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

function connectedClient(options: ConstructorParameters<typeof Herald>[1] = {}) {
  const client = new Herald('ws://fake/connection/websocket', {
    websocket: FakeSocket,
    minReconnectDelay: 1,
    maxReconnectDelay: 1,
    ...options,
  });
  clients.push(client);
  return client;
}

describe('Herald client (scripted server)', () => {
  it('delivers pushes that arrive in the same frame as their subscribe reply', async () => {
    const client = connectedClient({ token: 't' });
    const subscription = client.newSubscription<number>('chat:a');
    const received: number[] = [];
    subscription.on('publication', ({ data }) => received.push(data));
    subscription.subscribe();
    client.connect();
    await tick();
    const socket = FakeSocket.last as FakeSocket;
    const [connectId] = socket.idsOf('connect');
    const [subscribeId] = socket.idsOf('subscribe');
    socket.frame(
      { id: connectId, result: { client: 'c1', version: '0', ping: 25 } },
      { id: subscribeId, result: { recoverable: true, offset: 5, epoch: 'e' } },
      { push: { channel: 'chat:a', pub: { offset: 6, epoch: 'e', data: 6, time: 0 } } },
      { push: { channel: 'chat:a', pub: { offset: 7, epoch: 'e', data: 7, time: 0 } } },
    );
    expect(received).toEqual([6, 7]);
    expect(subscription.position).toEqual({ offset: 7, epoch: 'e' });
    expect(client.state).toBe('connected');
  });

  it('does not refresh a token that expires in months again and again', async () => {
    let issued = 0;
    const client = connectedClient({
      getToken: async () => {
        issued += 1;
        return 't';
      },
    });
    client.connect();
    await tick();
    await tick();
    const socket = FakeSocket.last as FakeSocket;
    const expires = Math.floor(Date.now() / 1000) + 60 * 86_400;
    socket.frame({
      id: socket.idsOf('connect')[0],
      result: { client: 'c1', version: '0', ping: 25, expires },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(issued).toBe(1);
    expect(socket.idsOf('refresh')).toEqual([]);
  });

  it('reconnects, rather than stopping, when the server sends something that is not JSON', async () => {
    const client = connectedClient({ token: 't' });
    client.connect();
    await tick();
    const first = FakeSocket.last as FakeSocket;
    first.frame({ id: first.idsOf('connect')[0], result: { client: 'c1', version: '0', ping: 25 } });
    expect(client.state).toBe('connected');
    first.frame('not json');
    expect(client.state).toBe('connecting');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(FakeSocket.last).not.toBe(first);
  });
});
