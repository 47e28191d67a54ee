import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect, type Socket } from 'node:net';
import { DisconnectCode, type PublicationFrame, type StreamPosition } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

let herald: TestHerald;

beforeAll(async () => {
  herald = await startTestHerald({
    maxOutboundBytes: 256 * 1024,
    namespaces: {
      feed: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 10_000 },
      short: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 10 },
    },
  });
});
afterAll(() => herald.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A subscriber that keeps every offset it sees and can reconnect from its last position. */
class RecordingSubscriber {
  readonly offsets: number[] = [];
  recoveries = 0;
  notRecovered = 0;
  #position: StreamPosition | undefined;
  #client: ProtocolClient | undefined;

  constructor(readonly channel: string) {}

  async connect(): Promise<void> {
    const client = await herald.client();
    // Pushes that arrive in the same frame as the subscribe reply are dispatched before the awaiting
    // code below runs; hold them so the reply's publications are recorded first, as a client must.
    const held: PublicationFrame[] = [];
    let holding = true;
    client.onPublication((channel, pub) => {
      if (channel !== this.channel) return;
      if (holding) held.push(pub);
      else this.#record(pub);
    });
    const since = this.#position;
    const result = await client.call(
      'subscribe',
      since === undefined ? { channel: this.channel } : { channel: this.channel, since },
    );
    if (since !== undefined) {
      if (result.recovered === true) this.recoveries++;
      else this.notRecovered++;
      for (const pub of result.publications ?? []) this.#record(pub);
    }
    this.#position ??= { offset: result.offset ?? 0, epoch: result.epoch ?? '' };
    holding = false;
    for (const pub of held) this.#record(pub);
    this.#client = client;
  }

  async disconnect(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    client.close();
    await client.closed;
  }

  get last(): number {
    return this.#position?.offset ?? 0;
  }

  #record(pub: PublicationFrame): void {
    this.offsets.push(pub.offset ?? -1);
    this.#position = { offset: pub.offset ?? 0, epoch: pub.epoch ?? '' };
  }
}

describe('recovery', () => {
  it('joins history and the live stream with no gap and no duplicate while publishing continues', async () => {
    const channel = 'feed:seam';
    const total = 2000;
    const subscribers = Array.from({ length: 8 }, () => new RecordingSubscriber(channel));
    await Promise.all(subscribers.map((s) => s.connect()));

    let published = 0;
    const publisher = (async () => {
      // Four concurrent publishers: offsets are still assigned one by one by the engine.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (published < total) {
            published++;
            await herald.publish(channel, { n: published });
          }
        }),
      );
    })();
    const churn = subscribers.map(async (subscriber, i) => {
      while (published < total) {
        await sleep(10 + ((i * 37) % 50));
        await subscriber.disconnect();
        await sleep((i * 13) % 30);
        await subscriber.connect();
      }
    });
    await Promise.all([publisher, ...churn]);
    await waitFor(
      () => subscribers.every((s) => s.last === total),
      10_000,
      'every subscriber to reach the end',
    );

    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const subscriber of subscribers) {
      expect(subscriber.notRecovered).toBe(0);
      expect(subscriber.recoveries).toBeGreaterThan(0);
      expect(subscriber.offsets).toEqual(expected);
      await subscriber.disconnect();
    }
  });

  it('says recovered: false, with the current position, when history no longer covers the gap', async () => {
    const channel = 'short:gap';
    const first = await herald.client();
    const sub = await first.call('subscribe', { channel });
    first.close();
    for (let i = 0; i < 25; i++) await herald.publish(channel, i);
    const again = await herald.client();
    const result = await again.call('subscribe', {
      channel,
      since: { offset: sub.offset ?? 0, epoch: sub.epoch ?? '' },
    });
    expect(result).toEqual({
      recoverable: true,
      recovered: false,
      offset: 25,
      epoch: sub.epoch,
      publications: [],
    });
    again.close();
  });

  it('says recovered: false when the epoch is not the channel’s', async () => {
    const client = await herald.client();
    await herald.publish('feed:epoch', 1);
    const result = await client.call('subscribe', {
      channel: 'feed:epoch',
      since: { offset: 1, epoch: 'gone' },
    });
    expect(result.recovered).toBe(false);
    expect(result.offset).toBe(1);
    client.close();
  });

  it('recovers an empty gap', async () => {
    const client = await herald.client();
    const { offset, epoch } = await herald.publish('feed:same', 1);
    const result = await client.call('subscribe', {
      channel: 'feed:same',
      since: { offset: offset ?? 0, epoch: epoch ?? '' },
    });
    expect(result).toMatchObject({ recovered: true, publications: [] });
    client.close();
  });
});

describe('slow consumers', () => {
  it('disconnects a subscriber that never reads, keeps serving others, and lets it recover', async () => {
    const channel = 'feed:flood';
    let socket: Socket | undefined;
    const stalled = await ProtocolClient.open(herald.wsUrl, {
      createConnection: (options) => (socket = netConnect(options as { port: number; host: string })),
    });
    await stalled.call('connect', { token: await herald.token({ user: 'stalled' }) });
    const start = await stalled.call('subscribe', { channel });
    const healthy = new RecordingSubscriber(channel);
    await healthy.connect();
    socket?.pause();

    const payload = 'x'.repeat(10_000);
    const total = 2000; // 20 MB: far beyond the 256 KiB buffer and the kernel's socket buffers.
    for (let i = 1; i <= total; i++) await herald.publish(channel, { i, payload });

    await waitFor(() => herald.node.slowConsumers === 1, 10_000, 'the slow consumer to be disconnected');
    const metrics = await (await fetch(`${herald.url}/metrics`)).text();
    expect(metrics).toMatch(/^herald_slow_consumer_disconnects_total 1$/m);
    expect(metrics).toMatch(/^herald_disconnects_total\{code="3006"\} 1$/m);
    await waitFor(() => healthy.last === total, 10_000, 'the healthy subscriber to receive everything');
    expect(healthy.offsets).toHaveLength(total);
    expect(herald.node.hub.userClients('stalled')).toHaveLength(0);
    socket?.resume();
    const closed = await stalled.closed;
    expect([DisconnectCode.SLOW_CONSUMER, 1006]).toContain(closed.code);

    const recovered = await herald.client({ token: await herald.token({ user: 'stalled' }) });
    const result = await recovered.call('subscribe', {
      channel,
      since: { offset: start.offset ?? 0, epoch: start.epoch ?? '' },
    });
    expect(result.recovered).toBe(true);
    expect(result.publications).toHaveLength(total);
    recovered.close();
    await healthy.disconnect();
  });
});
