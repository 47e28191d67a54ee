/**
 * Scenario 3: Herald on a Redis Cluster of three masters with one replica each (the cluster
 * test/integration/redis-cluster-faults.test.ts starts), under load, twice on a fresh cluster: a master
 * is killed (`kill -9`) and its replica promoted (the cluster fails over by itself, 2 s node timeout);
 * and the slots of some subscribed channels are migrated to another master while subscribed (held
 * MIGRATING for a moment, so publishes meet ASK and TRYAGAIN). A failover can lose writes the master
 * acknowledged (replication is asynchronous): subscribers must then be told `recovered: false`, never
 * skip silently.
 */
import {
  keySlot,
  migrateSlot,
  startRedisCluster,
  type RedisCluster,
  type RedisServer,
} from '../../test/helpers/redis.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import type { CheckingPublisher } from '../../test/helpers/checking-publisher.ts';
import type { SdkCheckingSubscriber } from '../../test/helpers/sdk-checking-subscriber.ts';
import { Fleet, chaosChannels } from '../lib/fleet.ts';
import { measure, type Row } from '../lib/outcome.ts';
import { pause, type Scenario, type ScenarioOptions } from '../lib/scenario.ts';

interface Size {
  readonly channels: number;
  readonly subscribers: number;
  readonly perSubscriber: number;
  readonly warmMs: number;
  readonly afterMs: number;
  /** Slots migrated, one after another. */
  readonly migrations: number;
}

interface Run {
  readonly cluster: RedisCluster;
  readonly fleet: Fleet;
  readonly channels: readonly string[];
  readonly subscribers: readonly SdkCheckingSubscriber[];
  readonly publisher: CheckingPublisher;
}

/** A fresh cluster with replicas, a fleet on it, subscribers and the publisher; cleans up after `body`. */
async function withRun(size: Size, body: (run: Run) => Promise<Row>): Promise<Row> {
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    // An empty HERALD_REDIS_URL counts as unset. A short position check, so a node notices soon a
    // stream that moved on without it (as the integration test does).
    const fleet = await Fleet.start({
      redisUrl: () => '',
      env: { HERALD_REDIS_CLUSTER_NODES: cluster.seeds.join(','), HERALD_POSITION_CHECK_INTERVAL: '1s' },
    });
    try {
      const channels = chaosChannels(size.channels);
      const subscribers = await fleet.subscribers(channels, size.subscribers, size.perSubscriber);
      const publisher = fleet.publisher(channels, 20);
      try {
        return await body({ cluster, fleet, channels, subscribers, publisher });
      } finally {
        for (const subscriber of subscribers) subscriber.stop();
        await publisher.stop(0);
      }
    } finally {
      await fleet.stop();
    }
  } finally {
    await cluster.stop();
  }
}

/** Waits until every channel has an acknowledged publication sent after `since`. */
async function publishingResumed(run: Run, channels: readonly string[], since: number): Promise<void> {
  await waitFor(
    () => channels.every((c) => run.publisher.acks.some((ack) => ack.channel === c && ack.sentAt > since)),
    30_000,
    'publishing to resume on every channel',
  );
}

/** The channels whose slots `master` serves now. */
async function channelsOn(run: Run, master: RedisServer): Promise<string[]> {
  const on: string[] = [];
  for (const channel of run.channels) if ((await run.cluster.masterFor(channel)) === master) on.push(channel);
  return on;
}

/** Polls until the cluster reports a master other than `old` for `slot` (its replica was promoted). */
async function newMaster(cluster: RedisCluster, slot: number, old: RedisServer): Promise<RedisServer> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const master = await cluster.masterFor(slot).catch(() => undefined);
    if (master !== undefined && master !== old) return master;
    if (Date.now() > deadline) throw new Error(`no replica took over slot ${slot} in 30 s`);
    await pause(100);
  }
}

async function failover(size: Size, log: ScenarioOptions['log']): Promise<Row> {
  return withRun(size, async (run) => {
    const victim = run.cluster.nodes[0] as RedisServer; // a master: nodes list masters first
    const hit = await channelsOn(run, victim);
    if (hit.length === 0) throw new Error('no channel on the master to kill');
    await pause(size.warmMs);
    log(
      `cluster-failover: ${run.publisher.acks.length} acks; kill -9 master :${victim.port} (${hit.length} of ${run.channels.length} channels)`,
    );
    const fault = Date.now();
    await victim.kill();
    const promoted = await newMaster(run.cluster, keySlot(hit[0] as string), victim);
    log(`cluster-failover: replica :${promoted.port} promoted after ${Date.now() - fault} ms`);
    await publishingResumed(run, run.channels, Date.now());
    await waitFor(() => run.subscribers.every((s) => s.subscribed), 30_000, 'every subscriber subscribed');
    await pause(size.afterMs);
    return measure('3. cluster: master killed', run.publisher, run.subscribers, [fault]);
  });
}

async function slotMigration(size: Size, log: ScenarioOptions['log']): Promise<Row> {
  return withRun(size, async (run) => {
    const [source, target] = run.cluster.nodes as [RedisServer, RedisServer];
    const moving = (await channelsOn(run, source)).slice(0, size.migrations);
    if (moving.length === 0) throw new Error('no channel on the source master');
    await pause(size.warmMs);
    const faults: number[] = [];
    for (const channel of moving) {
      const slot = keySlot(channel);
      log(
        `cluster-failover: ${run.publisher.acks.length} acks; migrate slot ${slot} (${channel}) :${source.port} → :${target.port}`,
      );
      faults.push(Date.now());
      // Held while migrating, so that publishes meet the migrating slot (ASK, TRYAGAIN).
      await migrateSlot(run.cluster, slot, target, { holdMigratingMs: 300 });
      await publishingResumed(run, [channel], Date.now());
      await pause(size.afterMs / 2);
    }
    await waitFor(() => run.subscribers.every((s) => s.subscribed), 30_000, 'every subscriber subscribed');
    await pause(size.afterMs);
    return measure(
      `3. cluster: ${moving.length} slot${moving.length === 1 ? '' : 's'} migrated`,
      run.publisher,
      run.subscribers,
      faults,
    );
  });
}

export const clusterFailover: Scenario = {
  name: 'cluster-failover',
  summary:
    'Redis Cluster (3 masters + replicas) under load: a master killed and its replica promoted; slots migrated while subscribed',
  async run({ quick, log }: ScenarioOptions): Promise<Row[]> {
    const size: Size = quick
      ? { channels: 4, subscribers: 12, perSubscriber: 2, warmMs: 1000, afterMs: 1000, migrations: 1 }
      : { channels: 20, subscribers: 150, perSubscriber: 4, warmMs: 4000, afterMs: 4000, migrations: 3 };
    return [await failover(size, log), await slotMigration(size, log)];
  },
};
