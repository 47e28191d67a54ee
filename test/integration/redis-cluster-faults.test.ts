/**
 * Redis Cluster faults under continuous publishing, with two Herald nodes on a 3-master Cluster with one
 * replica per master: a master killed (its replica takes over, with or without all acknowledged writes) and
 * slots migrated to another master while subscribed (also while other subscriptions on the shard change).
 * Checking subscribers on both nodes must end with every acknowledged publication exactly once and in
 * order, or have been told `recovered: false` where Redis lost acknowledged writes — never a silent gap
 * (guarantees 1, 2, 3 and 5). *
 * VERBOSE=1 prints each run's account (acknowledgements, failed attempts, what each subscriber saw).
 */
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { RedisKeys } from '../../src/engine/redis/keys.ts';
import {
  keySlot,
  migrateSlot,
  startRedisCluster,
  uniquePrefix,
  type RedisCluster,
  type RedisServer,
} from '../helpers/redis.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { CheckingSubscriber } from '../helpers/checking-subscriber.ts';
import { CheckingPublisher } from '../helpers/checking-publisher.ts';
import { failureAnswers, finishRun } from '../helpers/delivery-check.ts';

/** Long enough that recovery never runs out of history in these tests. */
const FEED = { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 10_000 };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Setup {
  readonly cluster: RedisCluster;
  readonly keys: RedisKeys;
  readonly a: TestHerald;
  readonly b: TestHerald;
}

async function setup(): Promise<Setup> {
  const cluster = await startRedisCluster({ replicasPerMaster: 1 });
  cleanups.push(() => cluster.stop());
  const prefix = uniquePrefix();
  // Checks every second rather than every 15 s, so a loss only a check can find is found quickly.
  const shared = {
    redisClusterNodes: cluster.seeds,
    redisPrefix: prefix,
    namespaces: { feed: FEED },
    positionCheckIntervalMs: 1000,
    // The churn test subscribes and unsubscribes as fast as it can on a few connections.
    commandRate: 0,
  };
  const [a, b] = await Promise.all([startTestHerald(shared), startTestHerald(shared)]);
  cleanups.push(() => Promise.all([a.close(), b.close()]));
  return { cluster, keys: new RedisKeys(prefix), a, b };
}

/**
 * `count` channel names whose slots `master` serves, each in a slot of its own. A channel's keys are
 * `<prefix>s:{<channel>}` and so on (src/engine/redis/keys.ts): its slot is the slot of its name.
 */
async function channelsOn(cluster: RedisCluster, master: RedisServer, count: number, tag: string) {
  const channels: string[] = [];
  const slots = new Set<number>();
  for (let i = 0; channels.length < count; i++) {
    const channel = `feed:${tag}-${i}`;
    const slot = keySlot(channel);
    if (!slots.has(slot) && (await cluster.masterFor(slot)) === master) {
      channels.push(channel);
      slots.add(slot);
    }
  }
  return channels;
}

/** Two subscribers on node B and one on node A; each reconnects to the other node. */
async function subscribe({ a, b }: Setup, channels: string[]): Promise<CheckingSubscriber[]> {
  const start = (first: TestHerald, second: TestHerald, name: string) =>
    CheckingSubscriber.start({
      urls: [first.wsUrl, second.wsUrl],
      channels,
      token: () => first.token(),
      name,
    });
  const subscribers = await Promise.all([start(b, a, 'b1'), start(b, a, 'b2'), start(a, b, 'a1')]);
  cleanups.push(() => Promise.all(subscribers.map((s) => s.stop())));
  return subscribers;
}

function publish({ a }: Setup, channels: string[]): CheckingPublisher {
  const publisher = CheckingPublisher.start({ apiUrls: [a.url], apiKey: a.config.apiKey, channels });
  cleanups.push(() => publisher.stop(0));
  return publisher;
}

/** Waits until every channel has `count` acknowledged publications sent after `since`. */
async function publishingResumed(
  publisher: CheckingPublisher,
  channels: string[],
  since: number,
  count = 20,
) {
  const after = (channel: string) =>
    publisher.acks.filter((ack) => ack.channel === channel && ack.sentAt > since).length;
  await waitFor(
    () => channels.every((c) => after(c) >= count),
    25_000,
    'publishing to resume on every channel',
  );
}

/** Polls until the cluster reports a master other than `old` for `slot` (a replica was promoted). */
async function newMaster(cluster: RedisCluster, slot: number, old: RedisServer): Promise<RedisServer> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const master = await cluster.masterFor(slot).catch(() => undefined);
    if (master !== undefined && master !== old) return master;
    if (Date.now() > deadline) throw new Error(`no replica took over slot ${slot} in 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Both nodes hold the channels' subscriptions on `target`. A node whose subscription node-redis lost
 * renews it when a position check finds it deaf, so a few checks are allowed for.
 */
async function expectBothNodesSubscribed(
  env: Setup,
  target: RedisServer,
  channels: readonly string[],
  details: string,
): Promise<void> {
  const subscribed = () => Promise.all(channels.map((c) => shardSubscribers(target, env.keys.pubsub(c))));
  for (let i = 0; i < 50 && (await subscribed()).some((count) => count !== 2); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(await subscribed(), `nodes subscribed on the new master, per moved channel\n${details}`).toEqual(
    channels.map(() => 2),
  );
}

/** How many connections subscribe to a sharded pub/sub channel on `master` (PUBSUB SHARDNUMSUB). */
async function shardSubscribers(master: RedisServer, pubsubChannel: string): Promise<number> {
  return Number((await master.command('PUBSUB', 'SHARDNUMSUB', pubsubChannel)).split('\n')[1]);
}

/** `master_repl_offset` or `slave_repl_offset` from INFO replication. */
function replicationOffset(info: string, role: 'master' | 'slave'): number {
  const match = new RegExp(`^${role}_repl_offset:(\\d+)`, 'm').exec(info);
  if (match === null) throw new Error(`no ${role}_repl_offset in ${info}`);
  return Number(match[1]);
}

it('loses no acknowledged publication, silently, when a master is killed and its replica takes over', async () => {
  const env = await setup();
  const victim = env.cluster.nodes[0] as RedisServer; // a master: nodes list masters first
  const [other] = await channelsOn(env.cluster, env.cluster.nodes[1] as RedisServer, 1, 'calm');
  const hit = await channelsOn(env.cluster, victim, 3, 'hit');
  const channels = [...hit, other as string];
  const subscribers = await subscribe(env, channels);
  const publisher = publish(env, channels);
  await publisher.acknowledged(100);

  await victim.kill();
  const killedAt = Date.now();
  const promoted = await newMaster(env.cluster, keySlot(hit[0] as string), victim);
  expect(promoted.pid, 'the promoted replica runs').toBeDefined();
  await publishingResumed(publisher, channels, killedAt);
  const { check, details } = await finishRun(publisher, subscribers);
  expect(check.problems, details).toEqual([]);
  expect(publisher.rejected, details).toEqual([]);
  // While some slots had no master, Redis was unavailable: publishes failed with 503, temporary — also on
  // the channel whose master stayed up (the whole cluster answers CLUSTERDOWN until the replica took over).
  const unexpected = failureAnswers(publisher).filter(
    (answer) => answer !== '503 HERALD_ERR_ENGINE_UNAVAILABLE',
  );
  expect(unexpected, `publishes failed with other answers than 503\n${details}`).toEqual([]);
}, 60_000);

it('tells subscribers recovered: false, never skips silently, when the promoted replica lacks acknowledged writes', async () => {
  const env = await setup();
  const victim = env.cluster.nodes[0] as RedisServer;
  const replica = env.cluster.nodes[3] as RedisServer; // replicas follow the masters, in master order
  expect((await replica.command('ROLE')).split('\n').slice(0, 3)).toEqual([
    'slave',
    '127.0.0.1',
    String(victim.port),
  ]);
  const hit = await channelsOn(env.cluster, victim, 3, 'lost');
  const subscribers = await subscribe(env, hit);
  const publisher = publish(env, hit);
  await publisher.acknowledged(100);

  // Replication is asynchronous: cut the replica off (stopped, so it cannot reconnect), let the master
  // acknowledge more publications, then kill the master and let the replica — without them — take over.
  const replicaPid = replica.pid ?? 0;
  process.kill(replicaPid, 'SIGSTOP');
  cleanups.push(async () => process.kill(replicaPid, 'SIGCONT'));
  await victim.command('CLIENT', 'KILL', 'TYPE', 'replica');
  const cutAt = Date.now();
  await waitFor(
    () => hit.every((c) => publisher.acks.filter((a) => a.channel === c && a.sentAt > cutAt).length >= 10),
    10_000,
    'publications acknowledged by the master alone',
  );
  const acknowledgedUpTo = replicationOffset(await victim.command('INFO', 'replication'), 'master');
  await victim.kill();
  const killedAt = Date.now();
  process.kill(replicaPid, 'SIGCONT');
  // The premise: the replica (which reads what reached its socket before it answers) lacks writes the
  // master acknowledged.
  const replicated = replicationOffset(await replica.command('INFO', 'replication'), 'slave');
  expect(replicated).toBeLessThan(acknowledgedUpTo);
  expect(await newMaster(env.cluster, keySlot(hit[0] as string), victim)).toBe(replica);
  await publishingResumed(publisher, hit, killedAt, 40);
  const { check, details } = await finishRun(publisher, subscribers);
  expect(check.problems, details).toEqual([]);
  // Every subscriber had received some of the lost publications live: each must have been told.
  for (const subscriber of subscribers)
    for (const channel of hit) expect(subscriber.notRecovered(channel).length, details).toBeGreaterThan(0);
  expect(publisher.rejected, details).toEqual([]);
}, 60_000);

it('loses, duplicates and reorders nothing when slots migrate to another master while subscribed', async () => {
  const env = await setup();
  const [source, target] = env.cluster.nodes as [RedisServer, RedisServer];
  const moving = await channelsOn(env.cluster, source, 2, 'move');
  const [staying] = await channelsOn(env.cluster, source, 1, 'stay');
  const channels = [...moving, staying as string];
  const subscribers = await subscribe(env, channels);
  const publisher = publish(env, channels);
  await publisher.acknowledged(100);

  for (const channel of moving) {
    const slot = keySlot(channel);
    // Held while migrating, so that publishes meet the migrating slot (TRYAGAIN, ASK).
    await migrateSlot(env.cluster, slot, target, { holdMigratingMs: 300 });
    expect(await env.cluster.masterFor(slot)).toBe(target);
    await publishingResumed(publisher, [channel], Date.now());
  }
  const { check, details } = await finishRun(publisher, subscribers);
  expect(check.problems, details).toEqual([]);
  expect(publisher.rejected, details).toEqual([]);
  for (const subscriber of subscribers) {
    const report = subscriber.report();
    // Nothing was lost, so the nodes had no reason to give up on their clients.
    expect(report.insufficientState, details).toBe(0);
    expect(report.notRecovered, details).toEqual([]);
  }
  expect(
    check.subscribers.every((s) => s.lostButTold === 0),
    details,
  ).toBe(true);
  // The nodes' subscriptions moved with the slots.
  await expectBothNodesSubscribed(env, target, moving, details);
}, 60_000);

it('keeps both nodes subscribed after slot migrations while other subscriptions on the shard come and go', async () => {
  const env = await setup();
  const [source, target] = env.cluster.nodes as [RedisServer, RedisServer];
  const moving = await channelsOn(env.cluster, source, 2, 'moved');
  const churned = await channelsOn(env.cluster, source, 4, 'churn');
  const subscribers = await subscribe(env, moving);
  const publisher = publish(env, moving);
  await publisher.acknowledged(50);

  // Clients subscribing and unsubscribing other channels of the source make each node send SSUBSCRIBE and
  // SUNSUBSCRIBE on the shard connection that also receives the source's SUNSUBSCRIBE for a moved slot.
  let churning = true;
  const churn = [env.a, env.b].flatMap((node) =>
    churned.map(async (channel) => {
      const client = await node.client();
      while (churning) {
        await client.call('subscribe', { channel });
        await client.call('unsubscribe', { channel });
      }
      client.close();
    }),
  );
  for (const channel of moving) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    await migrateSlot(env.cluster, keySlot(channel), target);
  }
  churning = false;
  await Promise.all(churn);

  await publishingResumed(publisher, moving, Date.now());
  const { check, details } = await finishRun(publisher, subscribers);
  expect(check.problems, details).toEqual([]);
  // Both nodes hold the moved channels' subscriptions on their new master, so publications arrive live
  // again (not only through the nodes' periodic position checks).
  await expectBothNodesSubscribed(env, target, moving, details);
}, 60_000);
