/**
 * The engine conformance suite: every Broker implementation must pass it. Call it from a test file
 * with a factory; each test gets a fresh broker and a unique channel prefix.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Publication } from '../../src/core/publication.ts';
import type { Broker, HistoryPolicy } from '../../src/engine/broker.ts';

const policy: HistoryPolicy = { size: 5, ttlMs: 60_000 };
let counter = 0;

/**
 * `createBroker(scope)`: brokers created with the same scope belong to one deployment (with Redis, the
 * same key prefix); every test gets a new scope.
 */
export function brokerConformance(name: string, createBroker: (scope: string) => Promise<Broker>): void {
  describe(`${name} broker conformance`, () => {
    let broker: Broker;
    let received: Publication[];
    let controls: string[];
    let channel: string;
    let scope: string;

    beforeEach(async () => {
      scope = `conf-${process.pid}-${++counter}:`;
      broker = await createBroker(scope);
      received = [];
      controls = [];
      await broker.start(
        {
          onPublication: (publication) => received.push(publication),
          onControl: (message) => controls.push(message),
          onDeliveryInterrupted: () => undefined,
        },
        'node-a',
      );
      channel = `conf:${Date.now()}-${++counter}`;
    });
    afterEach(() => broker.close());

    const publish = (data: unknown, extra: { idempotencyKey?: string } = {}) =>
      broker.publish(channel, { data: JSON.stringify(data), history: policy, ...extra });
    const until = async (predicate: () => boolean) => {
      for (let i = 0; i < 500 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(predicate()).toBe(true);
    };

    it('assigns offsets that grow by one within one epoch', async () => {
      const a = await publish(1);
      const b = await publish(2);
      expect(a.position?.offset).toBe(1);
      expect(b.position).toEqual({ offset: 2, epoch: a.position?.epoch });
      expect(a.duplicate).toBe(false);
    });

    it('keeps the epoch of a channel that has no publication yet', async () => {
      const first = await broker.history(channel, { limit: 0, reverse: false, history: policy });
      const second = await broker.history(channel, { limit: 0, reverse: false, history: policy });
      expect(first.position.offset).toBe(0);
      expect(second.position).toEqual(first.position);
      const published = await publish('x');
      expect(published.position).toEqual({ offset: 1, epoch: first.position.epoch });
    });

    it('caps history at the policy size and reads it in both directions', async () => {
      for (let i = 1; i <= 8; i++) await publish(i);
      const all = await broker.history(channel, { limit: 100, reverse: false, history: policy });
      expect(all.publications.map((p) => p.offset)).toEqual([4, 5, 6, 7, 8]);
      expect(all.position.offset).toBe(8);
      const newest = await broker.history(channel, { limit: 2, reverse: true, history: policy });
      expect(newest.publications.map((p) => p.data)).toEqual(['8', '7']);
      const since = await broker.history(channel, {
        sinceOffset: 6,
        limit: 100,
        reverse: false,
        history: policy,
      });
      expect(since.publications.map((p) => p.offset)).toEqual([7, 8]);
      const sinceLimited = await broker.history(channel, {
        sinceOffset: 2,
        limit: 2,
        reverse: false,
        history: policy,
      });
      expect(sinceLimited.publications.map((p) => p.offset)).toEqual([4, 5]);
    });

    it('answers a repeated idempotency key with the first result and stores once', async () => {
      const first = await publish('a', { idempotencyKey: 'k1' });
      const again = await publish('a', { idempotencyKey: 'k1' });
      expect(again).toEqual({ position: first.position, duplicate: true });
      const other = await publish('b', { idempotencyKey: 'k2' });
      expect(other.position?.offset).toBe(2);
      const history = await broker.history(channel, { limit: 10, reverse: false, history: policy });
      expect(history.publications).toHaveLength(2);
    });

    it('honours idempotency keys on channels without history', async () => {
      await broker.subscribe(channel);
      const options = { data: '1', idempotencyKey: 'k', idempotencyTtlMs: 60_000 };
      expect(await broker.publish(channel, options)).toEqual({ duplicate: false });
      expect(await broker.publish(channel, options)).toEqual({ duplicate: true });
      await until(() => received.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toHaveLength(1);
    });

    it('delivers only channels it subscribed to, in order', async () => {
      await broker.subscribe(channel);
      for (let i = 1; i <= 20; i++) await publish(i);
      await broker.publish(`${channel}-other`, { data: '0', history: policy });
      await until(() => received.length === 20);
      expect(received.map((p) => p.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(received.every((p) => p.channel === channel)).toBe(true);
      await broker.unsubscribe(channel);
      await publish(21);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toHaveLength(20);
    });

    it('carries data and client info unchanged', async () => {
      await broker.subscribe(channel);
      const info = { client: 'c1', user: 'u1', info: { name: 'Ann' } };
      await broker.publish(channel, { data: '{"text":"héllo ✓"}', info, history: policy });
      await until(() => received.length === 1);
      expect(received[0]).toMatchObject({ data: '{"text":"héllo ✓"}', info, offset: 1 });
      expect(received[0]?.time).toBeGreaterThan(0);
    });

    it('publishes without history where the channel keeps none', async () => {
      await broker.subscribe(channel);
      const result = await broker.publish(channel, { data: '1' });
      expect(result).toEqual({ duplicate: false });
      await until(() => received.length === 1);
      expect(received[0]).toMatchObject({ offset: 0, epoch: '' });
    });

    it('removes history but keeps the epoch and offset', async () => {
      const first = await publish(1);
      await broker.removeHistory(channel);
      const history = await broker.history(channel, { limit: 10, reverse: false, history: policy });
      expect(history.publications).toEqual([]);
      expect(history.position).toEqual(first.position);
    });

    it('ends an epoch only while it is current, so the next publication starts a new one', async () => {
      const first = await publish(1);
      const epoch = first.position?.epoch ?? '';
      await broker.endEpoch(channel, 'not-the-epoch');
      expect((await publish(2)).position).toEqual({ offset: 2, epoch });
      await broker.endEpoch(channel, epoch);
      const history = await broker.history(channel, { limit: 10, reverse: false, history: policy });
      expect(history.publications).toEqual([]);
      expect(history.position.epoch).not.toBe(epoch);
      const next = await publish(3);
      expect(next.position).toEqual({ offset: 1, epoch: history.position.epoch });
    });

    it('carries control messages to every node of the deployment, this one included, or to one node', async () => {
      const other = await createBroker(scope);
      const otherControls: string[] = [];
      await other.start(
        {
          onPublication: () => undefined,
          onControl: (message) => otherControls.push(message),
          onDeliveryInterrupted: () => undefined,
        },
        'node-b',
      );
      try {
        await broker.publishControl('{"hello":"é ✓"}');
        await until(() => controls.length === 1);
        expect(controls).toEqual(['{"hello":"é ✓"}']);
        await broker.publishControl('to a', 'node-a');
        await until(() => controls.length === 2);
        if (broker.kind !== 'memory') {
          await other.publishControl('to b', 'node-b');
          await until(() => otherControls.length === 2);
          await new Promise((resolve) => setTimeout(resolve, 50));
          expect(otherControls).toEqual(['{"hello":"é ✓"}', 'to b']);
          expect(controls).toEqual(['{"hello":"é ✓"}', 'to a']);
        }
      } finally {
        await other.close();
      }
    });
  });
}
