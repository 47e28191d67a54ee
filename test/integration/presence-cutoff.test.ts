/**
 * Join and leave events stay true when a node is cut off from Redis for longer than the presence
 * time to live: the other nodes' refreshes find its clients expired and announce their leaves; once
 * the network is back, its own refresh finds them gone and announces them joining again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';

const PRESENCE_TTL_MS = 1000;

let redis: RedisServer;
let proxy: FaultProxy;
let cutOff: TestHerald;
let other: TestHerald;
beforeAll(async () => {
  redis = await startRedis();
  proxy = await startFaultProxy({ host: '127.0.0.1', port: redis.port });
  const config = {
    redisPrefix: uniquePrefix(),
    presenceTtlMs: PRESENCE_TTL_MS,
    namespaces: { live: { ...DEFAULT_NAMESPACE_OPTIONS, presence: true, joinLeave: true } },
  };
  cutOff = await startTestHerald({ ...config, redisUrl: proxy.url, deliveryCheckIntervalMs: 200 });
  other = await startTestHerald({ ...config, redisUrl: redis.url });
}, 30_000);
afterAll(async () => {
  await cutOff?.close();
  await other?.close();
  await proxy?.close();
  await redis?.stop();
});

/** A subscriber of `channel` on the other node, recording the joins and leaves it hears. */
async function listen(channel: string) {
  const listener = await other.client({ token: await other.token({ user: 'watcher' }) });
  const events: string[] = [];
  listener.onMessage((message) => {
    const push = (message as { push?: Record<string, { user?: string }> }).push;
    for (const type of ['join', 'leave'])
      if (push?.[type] !== undefined) events.push(`${type} ${push[type].user ?? ''}`);
  });
  await listener.call('subscribe', { channel });
  return { listener, events };
}

async function presenceStats(channel: string): Promise<unknown> {
  const response = await fetch(`${other.url}/api/presence-stats?channel=${channel}`, {
    headers: { authorization: `apikey ${other.config.apiKey}` },
  });
  return response.json();
}

describe('presence across a node cut off from Redis', () => {
  it('announces the leaves of its clients, then their joins when it is back', async () => {
    const channel = 'live:island';
    const { listener, events } = await listen(channel);
    const zed = await cutOff.client({ token: await cutOff.token({ user: 'zed' }) });
    await zed.call('subscribe', { channel });
    await waitFor(() => events.includes('join zed'), 5000, "zed's join");

    proxy.pause();
    // The other node refreshes every third of the TTL: zed expires and is announced leaving once.
    await waitFor(() => events.includes('leave zed'), 4 * PRESENCE_TTL_MS, "zed's leave");
    await sleep(PRESENCE_TTL_MS);
    proxy.resume();
    await waitFor(() => events.length === 3, 10_000, "zed's join once the node is back");
    expect(events).toEqual(['join zed', 'leave zed', 'join zed']);
    expect(await presenceStats(channel)).toEqual({ clients: 2, users: 2 });
    // Its leave, when it goes, is announced once more, and once.
    zed.close();
    await waitFor(() => events.length === 4, 5000, "zed's leave");
    await sleep(PRESENCE_TTL_MS);
    expect(events).toEqual(['join zed', 'leave zed', 'join zed', 'leave zed']);
    listener.close();
  }, 30_000);

  it('announces no joins when Redis lost the presence (its clients were never announced leaving)', async () => {
    const channel = 'live:amnesia';
    const { listener, events } = await listen(channel);
    const amy = await cutOff.client({ token: await cutOff.token({ user: 'amy' }) });
    await amy.call('subscribe', { channel });
    await waitFor(() => events.includes('join amy'), 5000, "amy's join");
    await redis.command('FLUSHALL');
    // Two refreshes put amy back into presence, silently.
    await sleep(PRESENCE_TTL_MS);
    expect(await presenceStats(channel)).toEqual({ clients: 2, users: 2 });
    expect(events).toEqual(['join amy']);
    amy.close();
    listener.close();
  }, 30_000);
});
