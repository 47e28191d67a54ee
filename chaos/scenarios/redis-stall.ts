/**
 * Scenario 4: a network stall between one node and Redis. Node 0 reaches Redis through the test's
 * stalling proxy; under load the proxy stops passing Redis's data to the node's pub/sub connection
 * while keeping it open (a proxy or NAT silently dropping a long-lived connection's traffic). The node's
 * delivery check notices (its probes no longer come back), renews the connection and reads its channels
 * back from history: its clients must miss nothing.
 */
import { startRedis } from '../../test/helpers/redis.ts';
import { startStallingProxy } from '../../test/helpers/stalling-proxy.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import { measure, type Row } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';

export const redisStall: Scenario = {
  name: 'redis-stall',
  summary: "one node's pub/sub connection to Redis stalls (a proxy stops passing data on) under load",
  async run({ quick, log }: ScenarioOptions): Promise<Row[]> {
    const size = quick
      ? { channels: 4, subscribers: 12, perSubscriber: 2, warmMs: 1000, afterMs: 1000, check: '250ms' }
      : { channels: 20, subscribers: 150, perSubscriber: 4, warmMs: 4000, afterMs: 4000, check: '1s' };
    const redis = await startRedis();
    const proxy = await startStallingProxy({ host: '127.0.0.1', port: redis.port });
    const fleet = await Fleet.start({
      redisUrl: (index) => (index === 0 ? proxy.url : redis.url),
      env: { HERALD_DELIVERY_CHECK_INTERVAL: size.check },
    });
    try {
      const channels = chaosChannels(size.channels);
      const subscribers = await fleet.subscribers(channels, size.subscribers, size.perSubscriber);
      const publisher = fleet.publisher(channels, 20);
      try {
        await pause(size.warmMs);
        const fault = Date.now();
        const stalled = proxy.stallSubscribers();
        log(`redis-stall: ${publisher.acks.length} acks; stalled ${stalled} pub/sub connection(s) of node-0`);
        if (stalled === 0) throw new Error('node-0 has no pub/sub connection to stall');
        const checked = await readyFalls(fleet.nodes[0]?.url ?? '', 20_000);
        log(
          `redis-stall: node-0 ${checked ? 'reported not ready and recovered' : 'never reported not ready'}`,
        );
        await waitFor(() => subscribers.every((s) => s.subscribed), 30_000, 'every subscriber subscribed');
        await pause(size.afterMs);
        return [await measure('4. stall node ↔ Redis', publisher, subscribers, [fault])];
      } finally {
        for (const subscriber of subscribers) subscriber.stop();
        await publisher.stop(0);
      }
    } finally {
      await fleet.stop();
      await proxy.close();
      await redis.stop();
    }
  },
};

/** Whether `/readyz` of `url` turns 503 and then 200 again within `timeoutMs`. */
async function readyFalls(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let fell = false;
  while (Date.now() < deadline) {
    const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 503) fell = true;
    else if (status === 200 && fell) return true;
    await pause(25);
  }
  return false;
}
