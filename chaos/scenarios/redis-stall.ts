/**
 * Scenario 4: the network between one node and Redis fails without a word. Node 0 reaches Redis
 * through the test's fault proxy (test/helpers/fault-proxy.ts); under load, one variant per fault:
 *
 * - **silenced**: its pub/sub connection stops receiving while its commands still work (a proxy or
 *   NAT silently dropping one long-lived connection's traffic);
 * - **stalled**: all its traffic is held for a few seconds, then passed on (a network stall);
 * - **dropped**: its open connections lose everything sent either way, for good, and stay open (a
 *   NAT or load balancer that forgot them, a host gone without a reset).
 *
 * The node's delivery check notices (its probes no longer come back), reports not ready, replaces
 * the connections that no longer answer and reads its channels back from history: its clients must
 * miss nothing. Publishes it cannot store fail (503) and are retried by the publisher through the
 * balancer with the same idempotency key.
 */
import { startRedis } from '../../test/helpers/redis.ts';
import { startFaultProxy, type FaultProxy } from '../../test/helpers/fault-proxy.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import { measure, type Row } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';

interface Fault {
  readonly label: string;
  /** Injects the fault into node 0's connections, and ends it if it ends; logs what it did. */
  inject(proxy: FaultProxy, log: (line: string) => void): Promise<void>;
}

const STALL_MS = 5000;

const FAULTS: readonly Fault[] = [
  {
    label: '4a. node ↔ Redis: pub/sub silenced',
    async inject(proxy, log) {
      const silenced = proxy.silenceSubscribers();
      log(`redis-stall: silenced ${silenced} pub/sub connection(s) of node-0`);
      if (silenced === 0) throw new Error('node-0 has no pub/sub connection to silence');
    },
  },
  {
    label: `4b. node ↔ Redis: stalled ${STALL_MS / 1000} s`,
    async inject(proxy, log) {
      proxy.pause();
      log(`redis-stall: node-0's traffic to and from Redis held for ${STALL_MS} ms`);
      await pause(STALL_MS);
      proxy.resume();
    },
  },
  {
    label: '4c. node ↔ Redis: connections dropped',
    async inject(proxy, log) {
      const dropped = proxy.dropConnections();
      log(`redis-stall: ${dropped} connection(s) of node-0 turned into black holes`);
      if (dropped < 2) throw new Error('node-0 should have a commands and a pub/sub connection');
    },
  },
];

export const redisStall: Scenario = {
  name: 'redis-stall',
  summary:
    "one node's connections to Redis go silent under load: pub/sub silenced, all traffic stalled, connections dropped",
  async run(options: ScenarioOptions): Promise<Row[]> {
    const rows: Row[] = [];
    for (const fault of FAULTS) rows.push(await runFault(fault, options));
    return rows;
  },
};

async function runFault(fault: Fault, { quick, log }: ScenarioOptions): Promise<Row> {
  const size = quick
    ? { channels: 4, subscribers: 12, perSubscriber: 2, warmMs: 1000, afterMs: 1000, check: '250ms' }
    : { channels: 20, subscribers: 150, perSubscriber: 4, warmMs: 4000, afterMs: 4000, check: '1s' };
  const redis = await startRedis();
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: redis.port });
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
      const faultAt = Date.now();
      log(`redis-stall: ${publisher.acks.length} acks before the fault`);
      const readiness = readyFalls(fleet.nodes[0]?.url ?? '', 30_000);
      await fault.inject(proxy, log);
      const checked = await readiness;
      log(`redis-stall: node-0 ${checked ? 'reported not ready and recovered' : 'never reported not ready'}`);
      if (!checked) throw new Error(`${fault.label}: node-0 never reported not ready, or never recovered`);
      await waitFor(() => subscribers.every((s) => s.subscribed), 30_000, 'every subscriber subscribed');
      await pause(size.afterMs);
      return await measure(fault.label, publisher, subscribers, [faultAt]);
    } finally {
      for (const subscriber of subscribers) subscriber.stop();
      await publisher.stop(0);
    }
  } finally {
    await fleet.stop();
    await proxy.close();
    await redis.stop();
  }
}

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
