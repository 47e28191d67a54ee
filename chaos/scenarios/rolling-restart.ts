/**
 * Scenario 5: a rolling restart of three nodes, one after another, with the graceful drain: SIGTERM,
 * the node moves its clients to the others over the drain period and exits, it starts again, and
 * only then is the next one stopped (docs/operations.md, "Graceful drain").
 */
import { startRedis } from '../../test/helpers/redis.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import { measure, type Row } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';

const NODES = 3;

export const rollingRestart: Scenario = {
  name: 'rolling-restart',
  summary: 'rolling restart of three nodes with SIGTERM and the graceful drain, one after another',
  async run({ quick, log }: ScenarioOptions): Promise<Row[]> {
    const size = quick
      ? { channels: 4, subscribers: 12, perSubscriber: 2, warmMs: 300, drain: '500ms' }
      : { channels: 20, subscribers: 150, perSubscriber: 4, warmMs: 3000, drain: '3s' };
    const redis = await startRedis();
    const fleet = await Fleet.start({ nodes: NODES, redisUrl: () => redis.url, drainPeriod: size.drain });
    try {
      const channels = chaosChannels(size.channels);
      const subscribers = await fleet.subscribers(channels, size.subscribers, size.perSubscriber);
      const publisher = fleet.publisher(channels, 20);
      const faults: number[] = [];
      try {
        await pause(size.warmMs);
        for (let index = 0; index < NODES; index++) {
          log(`rolling-restart: ${publisher.acks.length} acks; SIGTERM node-${index} (drain ${size.drain})`);
          faults.push(Date.now());
          await fleet.drainNode(index);
          await fleet.startNode(index);
          await waitFor(() => subscribers.every((s) => s.subscribed), 30_000, 'every subscriber back');
          await pause(size.warmMs);
        }
        return [await measure('5. rolling restart (drain)', publisher, subscribers, faults)];
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
