/**
 * Several Herald nodes sharing one Redis (and one Redis Cluster): what one publishes, all deliver;
 * each knows the others, and the server API's calls reach the clients of every node.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode, type PublicationFrame } from '@herald/protocol';
import type { NodeInfo } from '../../src/node/node.ts';
import { run } from '../helpers/cli.ts';
import { TEST_API_KEY, TEST_TOKEN_SECRET } from '../helpers/config.ts';
import { freePort } from '../helpers/free-port.ts';
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

/** Calls the server API of a node; resolves to the status and the JSON body. */
async function api(
  node: { url: string },
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${node.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `apikey ${TEST_API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function nodeIds(node: { url: string }): Promise<string[]> {
  const { body } = await api(node, '/info');
  return (body['nodes'] as NodeInfo[]).map((info) => info.id);
}

/** Polls until `check` resolves true; rejects after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(topologies)('two nodes on %s', (name, engine) => {
  /** Publishes straight into Redis, as another process sharing the deployment's prefix could. */
  async function publishRaw(channel: string, message: string): Promise<void> {
    if (name === 'redis') await redis.redis.command('PUBLISH', channel, message);
    else await (await redis.cluster.masterFor(channel)).command('SPUBLISH', channel, message);
  }

  let a: TestHerald;
  let b: TestHerald;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniquePrefix();
    const shared = {
      ...engine(),
      redisPrefix: prefix,
      namespaces: {
        feed: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 5000 },
        user: { ...DEFAULT_NAMESPACE_OPTIONS, personal: true },
        vip: { ...DEFAULT_NAMESPACE_OPTIONS, subscribe: 'private' as const },
      },
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

  it('delivers on node B, in order, a batch published on node A, steps and all', async () => {
    const client = await b.client();
    const received = new Map<string, PublicationFrame[]>([
      ['chat:batch-1', []],
      ['chat:batch-2', []],
    ]);
    client.onPublication((channel, pub) => received.get(channel)?.push(pub));
    for (const channel of received.keys()) await client.call('subscribe', { channel });
    await a.publish('chat:batch-1', { i: 0 });
    // 250 publications to one channel take two steps of the Redis engine; 50 to the other, one.
    const publications = Array.from({ length: 300 }, (_, i) => ({
      channel: i % 6 === 5 ? 'chat:batch-2' : 'chat:batch-1',
      data: { i: i + 1 },
    }));
    const { status, body } = await api(a, '/publish/batch', { publications });
    expect(status).toBe(200);
    const results = body['results'] as { channel: string; offset: number }[];
    const first = results.filter((r) => r.channel === 'chat:batch-1').map((r) => r.offset);
    expect(first).toEqual(Array.from({ length: 250 }, (_, i) => i + 2));
    await waitFor(
      () => received.get('chat:batch-1')?.length === 251 && received.get('chat:batch-2')?.length === 50,
    );
    for (const [channel, pubs] of received) {
      const sent = publications.filter((p) => p.channel === channel).map((p) => p.data);
      const base = channel === 'chat:batch-1' ? 1 : 0;
      expect(pubs.map((p) => p.offset)).toEqual(Array.from({ length: pubs.length }, (_, i) => i + 1));
      expect(pubs.slice(base).map((p) => p.data)).toEqual(sent);
    }
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

  it('lists every live node in /api/info, the answering node first', async () => {
    await eventually(async () => (await nodeIds(a)).length === 2, 5000, 'node A to know node B');
    expect(await nodeIds(a)).toEqual([a.node.id, b.node.id]);
    expect(await nodeIds(b)).toEqual([b.node.id, a.node.id]);
    const { body } = await api(a, '/info');
    expect((body['nodes'] as NodeInfo[])[1]).toMatchObject({ engine: 'redis', version: a.node.version });
  });

  it('counts the subscribers of every node in /api/channels', async () => {
    const onA = await a.client();
    const onB = await b.client();
    const alsoOnB = await b.client();
    await onA.call('subscribe', { channel: 'chat:everywhere' });
    await onB.call('subscribe', { channel: 'chat:everywhere' });
    await alsoOnB.call('subscribe', { channel: 'chat:only-b' });
    const { status, body } = await api(a, '/channels?pattern=chat:*');
    expect(status).toBe(200);
    expect(body['channels']).toEqual([
      { channel: 'chat:everywhere', subscribers: 2 },
      { channel: 'chat:only-b', subscribers: 1 },
    ]);
    for (const client of [onA, onB, alsoOnB]) client.close();
  });

  it('disconnects a user on every node through any node', async () => {
    const bobOnB = await b.client({ token: await b.token({ user: 'bob' }) });
    const bobOnA = await a.client({ token: await a.token({ user: 'bob' }) });
    const carol = await b.client({ token: await b.token({ user: 'carol' }) });
    const { body } = await api(a, '/disconnect', { user: 'bob' });
    expect(body).toEqual({ disconnected: 2 });
    expect((await bobOnB.closed).code).toBe(DisconnectCode.FORCED);
    expect((await bobOnA.closed).code).toBe(DisconnectCode.FORCED);
    // Other users' connections stay.
    expect(await carol.call('ping', {})).toEqual({});
    carol.close();
  });

  it("subscribes and unsubscribes a user's clients on every node through any node", async () => {
    const pushes = (client: Awaited<ReturnType<TestHerald['client']>>) => {
      const seen: Record<string, unknown>[] = [];
      client.onMessage((message) => {
        const push = (message as { push?: Record<string, unknown> }).push;
        // Their personal channels (user:…) are subscribed too; this test looks at vip:lounge.
        if (push !== undefined && push['channel'] === 'vip:lounge') seen.push(push);
      });
      return seen;
    };
    const daveOnA = await a.client({ token: await a.token({ user: 'dave' }) });
    const daveOnB = await b.client({ token: await b.token({ user: 'dave' }) });
    const erin = await b.client({ token: await b.token({ user: 'erin' }) });
    const [onA, onB, onErin] = [pushes(daveOnA), pushes(daveOnB), pushes(erin)];
    // A private channel: the server may subscribe users where they could not subscribe themselves.
    expect((await api(b, '/subscribe', { user: 'dave', channel: 'vip:lounge' })).body).toEqual({
      subscribed: 2,
    });
    await waitFor(() => onA.length === 1 && onB.length === 1, 5000, 'the subscribe pushes');
    expect(onA[0]).toMatchObject({ channel: 'vip:lounge', subscribe: { recoverable: true } });
    await a.publish('vip:lounge', { n: 1 });
    await waitFor(() => onA.length === 2 && onB.length === 2, 5000, 'the publication on both nodes');
    expect(onB[1]).toMatchObject({ channel: 'vip:lounge', pub: { data: { n: 1 } } });
    expect((await api(a, '/subscribe', { user: 'dave', channel: 'vip:lounge' })).body).toEqual({
      subscribed: 0,
    });
    expect((await api(a, '/unsubscribe', { user: 'dave', channel: 'vip:lounge' })).body).toEqual({
      unsubscribed: 2,
    });
    await waitFor(() => onA.length === 3 && onB.length === 3, 5000, 'the unsubscribe pushes');
    expect(onA[2]).toEqual({
      channel: 'vip:lounge',
      unsubscribe: { code: 2000, reason: 'unsubscribed by the server' },
    });
    await a.publish('vip:lounge', { n: 2 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(onA).toHaveLength(3);
    expect(onErin).toEqual([]);
    expect((await api(a, '/subscribe', { user: 'dave', channel: 'bad channel' })).status).toBe(400);
    for (const client of [daveOnA, daveOnB, erin]) client.close();
  });

  it("subscribes every connection to its user's personal channel, on every node, resuming from subs", async () => {
    const token = await a.token({ user: 'frank' });
    const onA = await a.client({ token: null });
    const seen: Record<string, unknown>[] = [];
    onA.onMessage((message) => {
      if ('push' in message) seen.push((message as { push: Record<string, unknown> }).push);
    });
    await onA.call('connect', { token });
    await waitFor(() => seen.length === 1, 5000, 'the personal channel');
    expect(seen[0]).toMatchObject({ channel: 'user:frank', subscribe: { recoverable: true } });
    const first = await b.publish('user:frank', 'hello frank');
    await waitFor(() => seen.length === 2, 5000, 'the personal publication');
    onA.close();
    await b.publish('user:frank', 'missed');
    const again = await b.client({ token: null });
    const resumed: Record<string, unknown>[] = [];
    again.onMessage((message) => {
      if ('push' in message) resumed.push((message as { push: Record<string, unknown> }).push);
    });
    await again.call('connect', {
      token,
      subs: { 'user:frank': { since: { offset: first.offset ?? 0, epoch: first.epoch ?? '' } } },
    });
    await waitFor(() => resumed.length === 1, 5000, 'the resumed personal channel');
    expect(resumed[0]).toMatchObject({
      channel: 'user:frank',
      subscribe: { recovered: true, publications: [{ data: 'missed' }] },
    });
    again.close();
  });

  it('disconnects one client by id through another node, allowing it to reconnect', async () => {
    const client = await b.client({ token: null });
    const { client: id } = await client.call('connect', { token: await b.token() });
    expect((await api(a, '/disconnect', { client: id, reconnect: true })).body).toEqual({ disconnected: 1 });
    expect((await client.closed).code).toBe(DisconnectCode.RECONNECT);
  });

  it('names the nodes that did not answer a cluster-wide call', async () => {
    // A node that announces itself and then never answers, as a hung process would.
    const ghost = { id: 'ghost', name: 'ghost', version: '0', engine: 'redis' };
    const stats = { uptime: 0, connections: 0, subscriptions: 0, channels: 0 };
    const announcement = JSON.stringify({ type: 'node', node: { ...ghost, ...stats }, ttl: 10_000 });
    await publishRaw(`${prefix}control`, announcement);
    await eventually(async () => (await nodeIds(a)).includes('ghost'), 5000, 'the ghost to be listed');
    const { status, body } = await api(a, '/disconnect', { user: 'nobody' });
    expect(status).toBe(200);
    expect(body).toEqual({ disconnected: 0, missingNodes: ['ghost'] });
    expect((await api(a, '/channels')).body['missingNodes']).toEqual(['ghost']);
    await publishRaw(`${prefix}control`, JSON.stringify({ type: 'leave', node: 'ghost' }));
    await eventually(async () => !(await nodeIds(a)).includes('ghost'), 5000, 'the ghost to leave');
  }, 20_000);

  it('drops a node that leaves cleanly at once, and one killed without a word within seconds', async () => {
    const c = await startTestHerald({ ...engine(), redisPrefix: prefix });
    await eventually(async () => (await nodeIds(a)).includes(c.node.id), 5000, 'node C to appear');
    await c.close();
    // Its leave message still has to cross Redis to node A: well under a second, where a silent
    // node takes its time to live.
    await eventually(async () => !(await nodeIds(a)).includes(c.node.id), 1000, 'node C to leave');

    const killed = run(['serve'], {
      ...toEnv(engine()),
      HERALD_PORT: String(await freePort()),
      HERALD_REDIS_PREFIX: prefix,
      HERALD_API_KEY: TEST_API_KEY,
      HERALD_TOKEN_SECRET: TEST_TOKEN_SECRET,
      HERALD_NODE_NAME: 'doomed',
      HERALD_LOG_LEVEL: 'silent',
    }).child;
    try {
      const named = async () => ((await api(a, '/info')).body['nodes'] as NodeInfo[]).map((n) => n.name);
      await eventually(async () => (await named()).includes('doomed'), 15_000, 'the node process to appear');
      killed.kill('SIGKILL');
      await once(killed, 'exit');
      const killedAt = Date.now();
      await eventually(
        async () => !(await named()).includes('doomed'),
        10_000,
        'the killed node to drop out',
      );
      expect(Date.now() - killedAt).toBeLessThan(7000);
    } finally {
      killed.kill('SIGKILL');
    }
  }, 30_000);
});

function toEnv(config: Partial<HeraldConfig>): Record<string, string> {
  return {
    ...(config.redisUrl === undefined ? {} : { HERALD_REDIS_URL: config.redisUrl }),
    ...(config.redisClusterNodes === undefined
      ? {}
      : { HERALD_REDIS_CLUSTER_NODES: config.redisClusterNodes.join(',') }),
  };
}
