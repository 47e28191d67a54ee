/**
 * Scenario 6: a reconnect storm. Thousands of SDK clients (5,000; 500 quick), spread over several load
 * processes and loopback source addresses, all hold their connection on node 0. It is killed (`kill -9`)
 * under load and started again: every client reconnects to it at once (the SDK's full-jitter backoff is
 * all that spreads them) and recovers what it missed, while publishing goes on through the balancer.
 */
import { LoadProcess } from '../../bench/lib/load-process.ts';
import { startRedis } from '../../test/helpers/redis.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import type { Row, Tally } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';
import type { StormOpenRequest, StormStatus } from '../lib/storm-process.ts';

const ADDRESSES_PER_PROCESS = 4;

export const reconnectStorm: Scenario = {
  name: 'reconnect-storm',
  summary: 'every client of a node reconnects at once after kill -9 and restart (5,000 clients)',
  async run({ quick, log }: ScenarioOptions): Promise<Row[]> {
    const size = quick
      ? { clients: 500, processes: 2, channels: 10, warmMs: 1000, afterMs: 1000 }
      : { clients: 5000, processes: 5, channels: 20, warmMs: 3000, afterMs: 3000 };
    const redis = await startRedis();
    const fleet = await Fleet.start({ nodes: 2, redisUrl: () => redis.url });
    const loads = Array.from(
      { length: size.processes },
      (_, i) => new LoadProcess(`storm-${i + 1}`, 'chaos/lib/storm-process.ts'),
    );
    try {
      const channels = chaosChannels(size.channels);
      const url = `${(fleet.nodes[0]?.url ?? '').replace(/^http/, 'ws')}/connection/websocket`;
      const token = await fleet.token('storm');
      await Promise.all(
        loads.map((load, i) => {
          const mine = Array.from({ length: size.clients }, (_, k) => k)
            .filter((k) => k % size.processes === i)
            .map((k) => channels[k % channels.length] as string);
          const request: StormOpenRequest = {
            url,
            token,
            channels: mine,
            localAddresses: Array.from(
              { length: ADDRESSES_PER_PROCESS },
              (_, k) => `127.0.0.${2 + i * ADDRESSES_PER_PROCESS + k}`,
            ),
            minReconnectDelay: 500,
            maxReconnectDelay: 5000,
            concurrency: 32,
          };
          return load.call('open', request, 300_000);
        }),
      );
      const statuses = async () => Promise.all(loads.map((load) => load.call<StormStatus>('status')));
      const count = (all: StormStatus[], key: keyof StormStatus) => all.reduce((n, s) => n + s[key], 0);
      log(`reconnect-storm: ${count(await statuses(), 'subscribed')} clients subscribed on node-0`);

      const publisher = fleet.publisher(channels, 500);
      try {
        await pause(size.warmMs);
        log(`reconnect-storm: ${publisher.acks.length} acks; kill -9 node-0 and start it again`);
        const fault = Date.now();
        await fleet.killNode(0);
        await fleet.startNode(0);
        log(`reconnect-storm: node-0 ready again after ${Date.now() - fault} ms`);
        const deadline = Date.now() + 180_000;
        for (;;) {
          const all = await statuses();
          if (count(all, 'subscribed') === size.clients && count(all, 'reconnecting') === size.clients) break;
          if (Date.now() > deadline)
            throw new Error(`storm: not every client is back: ${JSON.stringify(all)}`);
          await pause(250);
        }
        log(`reconnect-storm: every client subscribed again ${Date.now() - fault} ms after the kill`);
        await pause(size.afterMs);
        await publisher.stop();
        const acks = publisher.acks;
        const tallies = await Promise.all(
          loads.map((load) => load.call<Tally>('check', { acks, faults: [fault], waitMs: 20_000 }, 120_000)),
        );
        const sum = (key: Exclude<keyof Tally, 'problems' | 'recoverMs' | 'acknowledged'>) =>
          tallies.reduce((n, t) => n + t[key], 0);
        return [
          {
            scenario: `6. reconnect storm (${size.clients.toLocaleString('en-US')} clients)`,
            acknowledged: acks.length,
            delivered: sum('delivered'),
            recovered: sum('recovered'),
            told: sum('told'),
            lost: sum('lost'),
            duplicated: sum('duplicated'),
            outOfOrder: sum('outOfOrder'),
            recoverMs: Math.max(...tallies.map((t) => t.recoverMs)),
            problems: tallies.flatMap((t) => t.problems),
            details: JSON.stringify({ acks: acks.length, failures: publisher.failures.length }),
          },
        ];
      } finally {
        await publisher.stop(0);
      }
    } finally {
      await Promise.all(loads.map((load) => load.call('stop').catch(() => undefined)));
      await Promise.all(loads.map((load) => load.stop()));
      await fleet.stop();
      await redis.stop();
    }
  },
};
