/**
 * Scenario 2: the standalone Redis every node shares is killed (SIGKILL) under load and restarted a
 * moment later: once with an append-only file fsynced on every write (nothing acknowledged may be lost,
 * the epochs survive), once with no persistence (every history is gone: each subscriber must be told
 * `recovered: false`, never skip silently, then follow the new epoch).
 */
import { startRedis } from '../../test/helpers/redis.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import { measure, type Row } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';

async function restartRedis(appendonly: boolean, { quick, log }: ScenarioOptions): Promise<Row> {
  const size = quick
    ? { channels: 4, subscribers: 12, perSubscriber: 2, warmMs: 1000, outageMs: 500, afterMs: 1000 }
    : { channels: 20, subscribers: 150, perSubscriber: 4, warmMs: 4000, outageMs: 2000, afterMs: 4000 };
  const name = appendonly ? 'redis-restart (AOF)' : 'redis-restart (no persistence)';
  const redis = await startRedis({ appendonly });
  // A short position check, so a node notices soon a stream that moved on without it.
  const fleet = await Fleet.start({
    redisUrl: () => redis.url,
    env: { HERALD_POSITION_CHECK_INTERVAL: '1s' },
  });
  try {
    const channels = chaosChannels(size.channels);
    const subscribers = await fleet.subscribers(channels, size.subscribers, size.perSubscriber);
    const publisher = fleet.publisher(channels, 20);
    try {
      await pause(size.warmMs);
      log(`${name}: ${publisher.acks.length} acks; kill -9 Redis for ${size.outageMs} ms`);
      const fault = Date.now();
      await redis.kill();
      await pause(size.outageMs);
      await redis.restart();
      const restartedAt = Date.now();
      await waitFor(
        () => publisher.acks.some((ack) => ack.sentAt > restartedAt),
        30_000,
        'publishing to resume',
      );
      await waitFor(() => subscribers.every((s) => s.subscribed), 30_000, 'every subscriber subscribed');
      await pause(size.afterMs);
      return await measure(`2. ${name}`, publisher, subscribers, [fault]);
    } finally {
      for (const subscriber of subscribers) subscriber.stop();
      await publisher.stop(0);
    }
  } finally {
    await fleet.stop();
    await redis.stop();
  }
}

export const redisRestart: Scenario = {
  name: 'redis-restart',
  summary: 'Redis killed and restarted under load, with AOF and without persistence',
  async run(options: ScenarioOptions): Promise<Row[]> {
    return [await restartRedis(true, options), await restartRedis(false, options)];
  },
};
