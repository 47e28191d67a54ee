/** Several Herald nodes sharing one Redis (and one Redis Cluster): what one publishes, all deliver. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublicationFrame } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import type { HeraldConfig } from '../../src/config/config.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { useRedisTopologies } from '../helpers/redis-topologies.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

const redis = useRedisTopologies();

const topologies: [string, () => Partial<HeraldConfig>][] = [
  ['redis', () => ({ redisUrl: redis.redis.url })],
  ['redis cluster', () => ({ redisClusterNodes: redis.cluster.seeds })],
];

describe.each(topologies)('two nodes on %s', (_name, engine) => {
  let a: TestHerald;
  let b: TestHerald;

  beforeAll(async () => {
    const shared = {
      ...engine(),
      redisPrefix: uniquePrefix(),
      namespaces: { feed: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 5000 } },
    };
    [a, b] = await Promise.all([startTestHerald(shared), startTestHerald(shared)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('delivers on node B, in order, what is published on node A', async () => {
    const client = await b.client();
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, pub) => received.push(pub));
    await client.call('subscribe', { channel: 'chat:cross' });
    for (let i = 1; i <= 200; i++) await a.publish('chat:cross', { i });
    await waitFor(() => received.length === 200);
    expect(received.map((p) => p.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    client.close();
  });

  it('answers a repeated idempotency key on another node with the first result', async () => {
    const first = await a.publish('chat:idem', { n: 1 }, 'same-key');
    const again = await b.publish('chat:idem', { n: 1 }, 'same-key');
    expect(again).toEqual(first);
    const history = await (await a.client()).call('history', { channel: 'chat:idem' });
    expect(history.publications).toHaveLength(1);
  });

  it('recovers on node A what a client of node B missed, with no gap or duplicate, while publishing continues', async () => {
    const channel = 'feed:move';
    const total = 600;
    let published = 0;
    const beforeMove: number[] = [];
    const afterMove: number[] = [];
    const first = await b.client();
    first.onPublication((_c, pub) => beforeMove.push(pub.offset ?? -1));
    const start = await first.call('subscribe', { channel });
    const publishing = (async () => {
      while (published < total) {
        published++;
        await (published % 2 === 0 ? a : b).publish(channel, { n: published });
      }
    })();
    await waitFor(() => beforeMove.length >= 100, 10_000, 'some live publications');
    first.close();
    await first.closed;
    const last = beforeMove[beforeMove.length - 1] ?? 0;
    const second = await a.client();
    second.onPublication((_c, pub) => afterMove.push(pub.offset ?? -1));
    const result = await second.call('subscribe', {
      channel,
      since: { offset: last, epoch: start.epoch ?? '' },
    });
    expect(result.recovered).toBe(true);
    const recovered = (result.publications ?? []).map((p) => p.offset ?? -1);
    await publishing;
    await waitFor(() => [...recovered, ...afterMove].at(-1) === total, 10_000, 'the last publication');
    expect([...beforeMove, ...recovered, ...afterMove]).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    second.close();
  });
});
