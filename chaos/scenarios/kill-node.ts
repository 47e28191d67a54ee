/**
 * Scenario 1: `kill -9` one of three nodes under load. Its clients lose their connection without a word,
 * reconnect through the balancer to the two survivors, and recover what they missed from history.
 */
import { startRedis } from '../../test/helpers/redis.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import { measure, type Row } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';

export const killNode: Scenario = {
  name: 'kill-node',
  summary: 'kill -9 one of three nodes under load; its clients reconnect to the others and recover',
  async run({ quick, log }: ScenarioOptions): Promise<Row[]> {
    const size = quick
      ? { channels: 4, subscribers: 12, perSubscriber: 2, warmMs: 1000, afterMs: 1000 }
      : { channels: 20, subscribers: 150, perSubscriber: 4, warmMs: 4000, afterMs: 4000 };
    const redis = await startRedis();
    const fleet = await Fleet.start({ redisUrl: () => redis.url });
    try {
      const channels = chaosChannels(size.channels);
      const subscribers = await fleet.subscribers(channels, size.subscribers, size.perSubscriber);
      const publisher = fleet.publisher(channels, 20);
      try {
        await pause(size.warmMs);
        log(`kill-node: ${subscribers.length} subscribers, ${publisher.acks.length} acks; kill -9 node-0`);
        const fault = Date.now();
        await fleet.killNode(0);
        await waitFor(() => subscribers.every((s) => s.subscribed), 30_000, 'every subscriber back');
        await pause(size.afterMs);
        return [await measure('1. kill -9 one of 3 nodes', publisher, subscribers, [fault])];
      } finally {
        for (const subscriber of subscribers) subscriber.stop();
        await publisher.stop(0);
      }
    } finally {
      await fleet.stop();
      await redis.stop();
    }
  },
};
