/**
 * A standalone Redis killed (SIGKILL) and restarted under continuous publishing, with two Herald nodes and
 * checking subscribers on both. With an append-only file fsynced on every write nothing acknowledged is
 * lost and the epochs survive: subscribers see no gap at all. Without persistence every history is gone:
 * each subscriber must be told `recovered: false` (possibly after a 3007 close), never skip silently, and
 * then follow the new epoch without a gap (guarantees 2, 3 and 5).
 *
 * VERBOSE=1 prints each run's account (acknowledgements, failed attempts, what each subscriber saw).
 */
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { CheckingSubscriber } from '../helpers/checking-subscriber.ts';
import { CheckingPublisher } from '../helpers/checking-publisher.ts';
import { failureAnswers, finishRun, type DeliveryCheck } from '../helpers/delivery-check.ts';

const FEED = { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 10_000 };
const CHANNELS = ['feed:one', 'feed:two'];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Run {
  readonly redis: RedisServer;
  readonly publisher: CheckingPublisher;
  readonly subscribers: CheckingSubscriber[];
  readonly check: DeliveryCheck;
  readonly details: string;
}

/**
 * Two nodes on one Redis; two subscribers per node (each reconnects to the other node) and a publisher
 * alternating between the nodes. Kills Redis under load, restarts it, and returns once publishing went
 * on long enough after the restart and every subscriber caught up (or the wait ran out).
 */
async function killAndRestart(appendonly: boolean): Promise<Run> {
  const redis = await startRedis({ appendonly });
  cleanups.push(() => redis.stop());
  const shared = {
    redisUrl: redis.url,
    redisPrefix: uniquePrefix(),
    namespaces: { feed: FEED },
    positionCheckIntervalMs: 1000,
  };
  const [a, b] = await Promise.all([startTestHerald(shared), startTestHerald(shared)]);
  cleanups.push(() => Promise.all([a.close(), b.close()]));
  const start = (first: TestHerald, second: TestHerald, name: string) =>
    CheckingSubscriber.start({
      urls: [first.wsUrl, second.wsUrl],
      channels: CHANNELS,
      token: () => first.token(),
      name,
    });
  const subscribers = await Promise.all([
    start(a, b, 'a1'),
    start(a, b, 'a2'),
    start(b, a, 'b1'),
    start(b, a, 'b2'),
  ]);
  cleanups.push(() => Promise.all(subscribers.map((s) => s.stop())));
  const publisher = CheckingPublisher.start({
    apiUrls: [a.url, b.url],
    apiKey: a.config.apiKey,
    channels: CHANNELS,
  });
  cleanups.push(() => publisher.stop(0));
  await publisher.acknowledged(100);

  await redis.kill();
  const killedAt = Date.now();
  await waitFor(() => publisher.failures.some((f) => f.at > killedAt), 5_000, 'a publish to fail');
  await new Promise((resolve) => setTimeout(resolve, 500)); // an outage, not a blip
  await redis.restart();
  const restartedAt = Date.now();
  const after = (channel: string) =>
    publisher.acks.filter((ack) => ack.channel === channel && ack.sentAt > restartedAt).length;
  await waitFor(() => CHANNELS.every((c) => after(c) >= 50), 15_000, 'publishing to resume');
  const { check, details } = await finishRun(publisher, subscribers);
  return { redis, publisher, subscribers, check, details };
}

it('loses nothing when a Redis that fsyncs every write is killed and restarted', async () => {
  const { publisher, subscribers, check, details } = await killAndRestart(true);

  expect(check.problems, details).toEqual([]);
  expect(publisher.rejected, details).toEqual([]);
  expect(failureAnswers(publisher), details).toEqual(['503 HERALD_ERR_ENGINE_UNAVAILABLE']);
  // The epochs survived, so nothing needed resyncing: every subscriber got every acknowledged publication.
  expect(new Set(publisher.acks.map((ack) => `${ack.channel} ${ack.epoch}`)).size, details).toBe(
    CHANNELS.length,
  );
  for (const subscriber of subscribers) expect(subscriber.report().notRecovered, details).toEqual([]);
  expect(
    check.subscribers.map((s) => s.received),
    details,
  ).toEqual(subscribers.map(() => publisher.acks.length));
}, 60_000);

it('tells every subscriber recovered: false, then continues the new epoch, when Redis restarts empty', async () => {
  const { publisher, subscribers, check, details } = await killAndRestart(false);

  expect(check.problems, details).toEqual([]);
  expect(publisher.rejected, details).toEqual([]);
  expect(failureAnswers(publisher), details).toEqual(['503 HERALD_ERR_ENGINE_UNAVAILABLE']);
  for (const channel of CHANNELS) {
    const acks = publisher.acks.filter((ack) => ack.channel === channel);
    const [first, last] = [acks[0], acks[acks.length - 1]];
    expect(last?.epoch, `${channel}: a new epoch after the restart`).not.toBe(first?.epoch);
    for (const subscriber of subscribers) {
      // Told, once the data was gone, that the position could not be continued: from the old epoch to the
      // new one. After that the stream continued with no gap (checkDelivery found no problem), up to the end.
      const told = subscriber.notRecovered(channel);
      expect(told.length, `${subscriber.name} ${channel}\n${details}`).toBeGreaterThan(0);
      expect(
        told.some((event) => event.since.epoch === first?.epoch && event.current.epoch !== first.epoch),
      ).toBe(true);
      expect(subscriber.position(channel)).toEqual({ offset: last?.offset, epoch: last?.epoch });
    }
  }
}, 60_000);
