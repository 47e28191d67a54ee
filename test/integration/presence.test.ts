/**
 * Presence across three nodes sharing Redis (and a Redis Cluster): clients subscribed on every node,
 * read through any node over the protocol and the server API; a clean leave drops a client at once;
 * a node killed without a word drops out within the presence time to live.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import type { HeraldConfig } from '../../src/config/config.ts';
import type { ProtocolError } from '../../src/cli/protocol-client.ts';
import { run } from '../helpers/cli.ts';
import { TEST_API_KEY, TEST_TOKEN_SECRET } from '../helpers/config.ts';
import { freePort } from '../helpers/free-port.ts';
import { mintToken } from '../../src/auth/tokens.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { useRedisTopologies } from '../helpers/redis-topologies.ts';
import { startTestHerald, type TestHerald } from '../helpers/herald.ts';

const redis = useRedisTopologies();
const PRESENCE_TTL_MS = 1500;

const topologies: [string, () => Partial<HeraldConfig>, () => Record<string, string>][] = [
  ['redis', () => ({ redisUrl: redis.redis.url }), () => ({ HERALD_REDIS_URL: redis.redis.url })],
  [
    'redis cluster',
    () => ({ redisClusterNodes: redis.cluster.seeds }),
    () => ({ HERALD_REDIS_CLUSTER_NODES: redis.cluster.seeds.join(',') }),
  ],
];

async function api(
  node: { url: string },
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${node.url}/api${path}`, {
    headers: { authorization: `apikey ${TEST_API_KEY}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe.each(topologies)('presence on three nodes on %s', (_name, engine, engineEnv) => {
  let nodes: TestHerald[];
  let prefix: string;
  const namespaces = {
    room: { ...DEFAULT_NAMESPACE_OPTIONS, presence: true },
    quiet: { ...DEFAULT_NAMESPACE_OPTIONS },
    live: { ...DEFAULT_NAMESPACE_OPTIONS, presence: true, joinLeave: true },
  };

  beforeAll(async () => {
    prefix = uniquePrefix();
    const config = { ...engine(), redisPrefix: prefix, presenceTtlMs: PRESENCE_TTL_MS, namespaces };
    nodes = await Promise.all([startTestHerald(config), startTestHerald(config), startTestHerald(config)]);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.close()));
  });

  async function join(node: TestHerald, user: string, channel: string, info?: Record<string, string>) {
    const client = await node.client({
      token: await node.token({ user, ...(info === undefined ? {} : { info }) }),
    });
    await client.call('subscribe', { channel });
    return client;
  }

  it('lists and counts the clients of every node, through any node, and drops a clean leave at once', async () => {
    const [a, b, c] = nodes as [TestHerald, TestHerald, TestHerald];
    const channel = 'room:lobby';
    const ann1 = await join(a, 'ann', channel, { name: 'Ann' });
    const ann2 = await join(b, 'ann', channel);
    const bob = await join(c, 'bob', channel);
    const stats = () => api(b, `/presence-stats?channel=${channel}`).then((r) => r.body);
    expect(await stats()).toEqual({ clients: 3, users: 2 });

    const page = await api(c, `/presence?channel=${channel}`);
    const clients = page.body['clients'] as { client: string; user: string; info?: unknown }[];
    expect(clients.map((entry) => entry.user).sort()).toEqual(['ann', 'ann', 'bob']);
    expect(clients.find((entry) => entry.info !== undefined)?.info).toEqual({ name: 'Ann' });

    // The same through the protocol, for a subscriber of the channel.
    expect(await bob.call('presence_stats', { channel })).toEqual({ clients: 3, users: 2 });
    const viaProtocol = (await bob.call('presence', { channel })) as { clients: unknown[] };
    expect(viaProtocol.clients).toHaveLength(3);

    ann2.close();
    await ann2.closed;
    let after: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      after = await stats();
      if (after['clients'] === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(after).toEqual({ clients: 2, users: 2 });
    await bob.call('unsubscribe', { channel });
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      last = await stats();
      if (last['clients'] === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(last).toEqual({ clients: 1, users: 1 });
    ann1.close();
    bob.close();
  });

  it('tells subscribers on every node when clients join and leave, in order for each client', async () => {
    const [a, b, c] = nodes as [TestHerald, TestHerald, TestHerald];
    const channel = 'live:stage';
    const watcher = await join(c, 'watcher', channel);
    const events: string[] = [];
    watcher.onMessage((message) => {
      const push = (message as { push?: Record<string, { user?: string }> }).push;
      if (push?.['join'] !== undefined) events.push(`join ${push['join'].user ?? ''}`);
      if (push?.['leave'] !== undefined) events.push(`leave ${push['leave'].user ?? ''}`);
    });
    // Ann listens from before her subscribe: she hears Bob's join, never her own.
    const ann = await a.client({ token: await a.token({ user: 'ann', info: { name: 'Ann' } }) });
    const heardByAnn: string[] = [];
    ann.onMessage((message) => {
      const push = (message as { push?: Record<string, { user?: string }> }).push;
      if (push?.['join'] !== undefined) heardByAnn.push(`join ${push['join'].user ?? ''}`);
    });
    await ann.call('subscribe', { channel });
    const bob = await join(b, 'bob', channel);
    for (let i = 0; i < 200 && heardByAnn.length < 1; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heardByAnn).toEqual(['join bob']);
    await ann.call('unsubscribe', { channel });
    bob.close();
    for (let i = 0; i < 200 && events.length < 4; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect([...events].sort()).toEqual(['join ann', 'join bob', 'leave ann', 'leave bob']);
    expect(events.indexOf('join ann')).toBeLessThan(events.indexOf('leave ann'));
    expect(events.indexOf('join bob')).toBeLessThan(events.indexOf('leave bob'));
    // The watcher does not hear its own join.
    expect(events).not.toContain('join watcher');
    ann.close();
    watcher.close();
  });

  it('refuses presence where the namespace keeps none, and to clients that may not subscribe', async () => {
    const [a] = nodes as [TestHerald];
    expect((await api(a, '/presence?channel=quiet:x')).body).toMatchObject({
      error: { code: 'HERALD_ERR_PRESENCE_DISABLED' },
    });
    // Not a number, and past Redis's unsigned 64-bit cursors (which Redis itself would refuse).
    for (const cursor of ['abc', '18446744073709551616', '99999999999999999999']) {
      const badCursor = await api(a, `/presence?channel=room:x&cursor=${cursor}`);
      expect(badCursor.status).toBe(400);
      expect(badCursor.body).toMatchObject({ error: { code: 'HERALD_ERR_BAD_REQUEST' } });
    }
    expect((await api(a, '/presence?channel=room:x&cursor=18446744073709551615')).status).toBe(200);
    const narrowed = await a.client({ token: await a.token({ channels: ['room:mine'] }) });
    const error = await narrowed.call('presence', { channel: 'room:other' }).catch((err: unknown) => err);
    expect((error as ProtocolError).code).toBe(ErrorCode.PERMISSION_DENIED);
    narrowed.close();
  });

  it('drops the clients of a node killed without a word within the presence time to live, and announces their leaves once', async () => {
    const [a, b] = nodes as [TestHerald, TestHerald];
    const channel = 'live:doomed';
    const port = await freePort();
    const dir = mkdtempSync(joinPath(tmpdir(), 'herald-presence-'));
    const configFile = joinPath(dir, 'herald.config.json');
    writeFileSync(configFile, JSON.stringify({ namespaces: { live: { presence: true, joinLeave: true } } }));
    const killed = run(['serve'], {
      ...engineEnv(),
      HERALD_PORT: String(port),
      HERALD_REDIS_PREFIX: prefix,
      HERALD_API_KEY: TEST_API_KEY,
      HERALD_TOKEN_SECRET: TEST_TOKEN_SECRET,
      HERALD_PRESENCE_TTL: `${PRESENCE_TTL_MS}ms`,
      HERALD_LOG_LEVEL: 'silent',
      HERALD_CONFIG: configFile,
    }).child;
    try {
      const url = `ws://127.0.0.1:${port}/connection/websocket`;
      let doomed: ProtocolClient | undefined;
      for (let i = 0; i < 300 && doomed === undefined; i++) {
        doomed = await ProtocolClient.open(url).catch(() => undefined);
        if (doomed === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (doomed === undefined) throw new Error('the node process did not start');
      await doomed.call('connect', { token: await mintToken(TEST_TOKEN_SECRET, { user: 'zed' }) });
      await doomed.call('subscribe', { channel });
      const survivor = await join(a, 'yan', channel);
      // Two survivors on two nodes, both refreshing the channel: one of them announces the leave.
      const other = await join(b, 'xia', channel);
      const leaves: string[] = [];
      for (const listener of [survivor, other])
        listener.onMessage((message) => {
          const push = (message as { push?: Record<string, { user?: string }> }).push;
          if (push?.['leave'] !== undefined) leaves.push(push['leave'].user ?? '');
        });
      const count = async () => (await api(a, `/presence-stats?channel=${channel}`)).body['clients'];
      for (let i = 0; i < 100 && (await count()) !== 3; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await count()).toBe(3);
      killed.kill('SIGKILL');
      await once(killed, 'exit');
      // Within the time to live (and a little slack for the check), only the survivors remain, and
      // the survivors' refreshes announce zed's leave: to each of the two listeners, once.
      let clients: unknown = 3;
      for (let i = 0; i < 100 && (clients !== 2 || leaves.length < 2); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        clients = await count();
      }
      expect(clients).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, PRESENCE_TTL_MS));
      expect(leaves).toEqual(['zed', 'zed']);
      survivor.close();
      other.close();
    } finally {
      killed.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
