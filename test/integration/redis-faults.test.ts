/**
 * A Redis outage: the node stays up, reports not ready, fails publishes fast, recovers by itself, and
 * tells its clients that the history they could recover from was lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DisconnectCode, type PublicationFrame } from '@herald/protocol';
import { RedisKeys } from '../../src/engine/redis/keys.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

let redis: RedisServer;
let herald: TestHerald;

beforeAll(async () => {
  redis = await startRedis();
  herald = await startTestHerald({ redisUrl: redis.url, redisPrefix: uniquePrefix() });
});
afterAll(async () => {
  await herald?.close();
  await redis?.stop();
});

async function publishStatus(): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${herald.url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${herald.config.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'chat:outage', data: { n: 0 } }),
  });
  const body = (await response.json()) as { error?: { code: string } };
  return { status: response.status, ...(body.error ? { code: body.error.code } : {}) };
}

it('reports not ready and fails publishes with 503 while Redis is down, then tells its clients the history was lost', async () => {
  const client = await herald.client();
  const received: PublicationFrame[] = [];
  client.onPublication((_channel, pub) => received.push(pub));
  const before = await client.call('subscribe', { channel: 'chat:outage' });
  await herald.publish('chat:outage', { n: 1 });
  await waitFor(() => received.length === 1);

  await redis.kill();
  await waitFor(() => !herald.node.ready, 10_000, 'the node to notice the outage');
  expect((await fetch(`${herald.url}/readyz`)).status).toBe(503);
  expect(await publishStatus()).toEqual({ status: 503, code: 'HERALD_ERR_ENGINE_UNAVAILABLE' });
  expect((await fetch(`${herald.url}/healthz`)).status).toBe(200);

  await redis.restart();
  await waitFor(() => herald.node.ready, 15_000, 'the node to reconnect');
  expect((await fetch(`${herald.url}/readyz`)).status).toBe(200);
  // Redis restarted empty: the history the client could recover from is gone. Once reconnected, the
  // node checks its channels, finds a new epoch and makes the client recover (3007), never a silent jump.
  const closed = await client.closed;
  expect(closed.code).toBe(DisconnectCode.INSUFFICIENT_STATE);
  expect(received).toHaveLength(1);

  const again = await herald.client();
  const resumed = await again.call('subscribe', {
    channel: 'chat:outage',
    since: { offset: received[0]?.offset ?? 0, epoch: before.epoch ?? '' },
  });
  expect(resumed).toMatchObject({ recovered: false, publications: [] });
  expect(resumed.epoch).not.toBe(before.epoch);
  const live: PublicationFrame[] = [];
  again.onPublication((_channel, pub) => live.push(pub));
  const published = await herald.publish('chat:outage', { n: 2 });
  await waitFor(() => live.length === 1);
  expect(live[0]).toMatchObject({ offset: published.offset, epoch: resumed.epoch });
  again.close();
}, 40_000);

it('reports a command Redis refused as an internal error, not as Redis being unreachable', async () => {
  const keys = new RedisKeys(herald.config.redisPrefix);
  await redis.command('SET', keys.meta('chat:wrong-type'), 'not a hash');
  const response = await fetch(`${herald.url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${herald.config.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'chat:wrong-type', data: 1 }),
  });
  expect(response.status).toBe(500);
  expect(await response.json()).toMatchObject({ error: { code: 'HERALD_ERR_INTERNAL' } });
  expect(herald.node.ready).toBe(true);
});

it('shuts down within seconds even when Redis stopped answering', async () => {
  const stalled = await startRedis();
  const node = await startTestHerald({ redisUrl: stalled.url, redisPrefix: uniquePrefix() });
  const client = await node.client();
  await client.call('subscribe', { channel: 'chat:stalled' });
  const pid = stalled.pid ?? 0;
  process.kill(pid, 'SIGSTOP'); // the TCP connections stay open; nothing is answered
  try {
    const started = Date.now();
    await node.close();
    expect(Date.now() - started).toBeLessThan(6000);
    expect((await client.closed).code).toBe(DisconnectCode.SHUTDOWN);
  } finally {
    process.kill(pid, 'SIGCONT');
    await stalled.stop();
  }
}, 30_000);
