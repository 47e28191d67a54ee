/** A Redis outage: the node stays up, reports not ready, fails publishes fast, and recovers by itself. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PublicationFrame } from '@herald/protocol';
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

it('reports not ready and fails publishes with 503 while Redis is down, then resumes delivery', async () => {
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
  // The subscriber connection resubscribes by itself; Redis lost its data, so a new epoch starts.
  for (let attempt = 0; attempt < 50 && received.length < 2; attempt++) {
    await herald.publish('chat:outage', { n: 2 });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(received.length).toBeGreaterThanOrEqual(2);
  expect(received[1]?.epoch).not.toBe(before.epoch);
  client.close();
}, 40_000);
