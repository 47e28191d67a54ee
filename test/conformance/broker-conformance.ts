/**
 * The engine conformance suite: every Broker implementation must pass it. Call it from a test file
 * with a factory; each test gets a fresh broker and a unique channel prefix.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Publication } from '../../src/core/publication.ts';
import type { Broker, HistoryPolicy, PublishItem, PublishResult } from '../../src/engine/broker.ts';

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

    describe('publishBatch', () => {
      const batch = (items: readonly PublishItem[], history: HistoryPolicy | undefined = policy) =>
        broker.publishBatch(channel, items, history === undefined ? {} : { history });
      const datas = (from: number, to: number) =>
        Array.from({ length: to - from + 1 }, (_, i) => ({ data: String(from + i) }));
      const offsets = (results: readonly PublishResult[]) => results.map((r) => r.position?.offset);

      it('stores a batch in order with consecutive offsets, in the epoch a reader saw', async () => {
        const { position } = await broker.history(channel, { limit: 0, reverse: false, history: policy });
        const results = await batch(datas(1, 4));
        expect(results).toEqual(
          [1, 2, 3, 4].map((offset) => ({ position: { offset, epoch: position.epoch }, duplicate: false })),
        );
        expect((await publish(5)).position?.offset).toBe(5);
        expect(offsets(await batch(datas(6, 7)))).toEqual([6, 7]);
        const history = await broker.history(channel, { limit: 10, reverse: false, history: policy });
        expect(history.publications.map((p) => [p.offset, p.data])).toEqual(
          [3, 4, 5, 6, 7].map((n) => [n, String(n)]),
        );
      });

      it('caps the history at the policy size, even within one batch', async () => {
        expect(offsets(await batch(datas(1, 8)))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        const history = await broker.history(channel, { limit: 100, reverse: false, history: policy });
        expect(history.publications.map((p) => p.offset)).toEqual([4, 5, 6, 7, 8]);
        expect(history.position.offset).toBe(8);
      });

      it('delivers a batch to a subscriber one publication at a time, in order, info and data unchanged', async () => {
        await broker.subscribe(channel);
        const info = { client: 'c1', user: 'u1', info: { name: 'Ann' } };
        await publish(1);
        await batch([{ data: '{"text":"héllo ✓\\n"}', info }, ...datas(3, 20)]);
        await publish(21);
        await until(() => received.length === 21);
        expect(received.map((p) => p.offset)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
        expect(received[1]).toMatchObject({ channel, data: '{"text":"héllo ✓\\n"}', info, offset: 2 });
        expect(received[2]?.info).toBeUndefined();
        expect(received.slice(2, 20).map((p) => p.data)).toEqual(datas(3, 20).map((d) => d.data));
        expect(new Set(received.map((p) => p.epoch)).size).toBe(1);
      });

      it('keeps data whose JSON has raw line feeds between tokens whole', async () => {
        await broker.subscribe(channel);
        await batch([{ data: '{\n"a": 1\n}' }, { data: '[1,\n2]' }]);
        await until(() => received.length === 2);
        expect(received.map((p) => JSON.parse(p.data) as unknown)).toEqual([{ a: 1 }, [1, 2]]);
      });

      it('answers idempotency keys repeated within a batch and across batches with the first result', async () => {
        await broker.subscribe(channel);
        const ttl = { history: policy, idempotencyTtlMs: 60_000 };
        const first = await broker.publishBatch(
          channel,
          [
            { data: '"a"', idempotencyKey: 'k1' },
            { data: '"b"' },
            { data: '"a again"', idempotencyKey: 'k1' },
            { data: '"c"', idempotencyKey: 'k2' },
          ],
          ttl,
        );
        const epoch = first[0]?.position?.epoch;
        expect(first).toEqual([
          { position: { offset: 1, epoch }, duplicate: false },
          { position: { offset: 2, epoch }, duplicate: false },
          { position: { offset: 1, epoch }, duplicate: true },
          { position: { offset: 3, epoch }, duplicate: false },
        ]);
        const second = await broker.publishBatch(
          channel,
          [
            { data: '"c again"', idempotencyKey: 'k2' },
            { data: '"d"', idempotencyKey: 'k3' },
          ],
          ttl,
        );
        expect(second).toEqual([
          { position: { offset: 3, epoch }, duplicate: true },
          { position: { offset: 4, epoch }, duplicate: false },
        ]);
        expect(await publish('x', { idempotencyKey: 'k3' })).toEqual({
          position: { offset: 4, epoch },
          duplicate: true,
        });
        const repeats = await broker.publishBatch(channel, [{ data: '"b"', idempotencyKey: 'k1' }], ttl);
        expect(repeats).toEqual([{ position: { offset: 1, epoch }, duplicate: true }]);
        const history = await broker.history(channel, { limit: 10, reverse: false, history: policy });
        expect(history.publications.map((p) => p.data)).toEqual(['"a"', '"b"', '"c"', '"d"']);
        await until(() => received.length === 4);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(received.map((p) => p.data)).toEqual(['"a"', '"b"', '"c"', '"d"']);
      });

      it('publishes without positions where the channel keeps no history, keys included', async () => {
        await broker.subscribe(channel);
        const ttl = { idempotencyTtlMs: 60_000 };
        const items = [{ data: '1', idempotencyKey: 'k' }, { data: '2' }, { data: '3', idempotencyKey: 'k' }];
        expect(await broker.publishBatch(channel, items, ttl)).toEqual([
          { duplicate: false },
          { duplicate: false },
          { duplicate: true },
        ]);
        expect(await broker.publishBatch(channel, [items[0] as PublishItem], ttl)).toEqual([
          { duplicate: true },
        ]);
        await until(() => received.length === 2);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(received.map((p) => [p.offset, p.epoch, p.data])).toEqual([
          [0, '', '1'],
          [0, '', '2'],
        ]);
      });

      it('publishes a batch larger than one engine step in order, without a gap', async () => {
        await broker.subscribe(channel);
        const big: HistoryPolicy = { size: 1000, ttlMs: 60_000 };
        const total = 450;
        const results = await batch(datas(1, total), big);
        expect(offsets(results)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
        // About 1 MiB per item pair: several steps by size as well.
        const large = Array.from({ length: 5 }, (_, i) => ({ data: JSON.stringify(`${i}`.repeat(400_000)) }));
        expect(offsets(await batch(large, big))).toEqual([451, 452, 453, 454, 455]);
        await until(() => received.length === total + 5);
        expect(received.map((p) => p.offset)).toEqual(Array.from({ length: total + 5 }, (_, i) => i + 1));
        expect(received.at(-1)?.data).toBe(large[4]?.data);
        const history = await broker.history(channel, { limit: 1000, reverse: false, history: big });
        expect(history.publications.map((p) => p.offset)).toEqual(received.map((p) => p.offset));
      });

      it('starts a new epoch after the old one ended', async () => {
        const [first] = await batch(datas(1, 2));
        const epoch = first?.position?.epoch ?? '';
        await broker.endEpoch(channel, epoch);
        const next = await batch(datas(3, 4));
        expect(offsets(next)).toEqual([1, 2]);
        expect(next[0]?.position?.epoch).not.toBe(epoch);
      });
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

    describe('presence', () => {
      const alice1 = { client: 'c-alice-1', user: 'alice', info: { name: 'Alice' } };
      const alice2 = { client: 'c-alice-2', user: 'alice' };
      const bob = { client: 'c-bob', user: 'bob' };
      /** A user id with a tab and JSON-looking text, and info with a tab. */
      const oddEntry = () => ({ client: 'c-odd', user: 'a\tb {"x":1}', info: { note: 'tab\there' } });

      async function readAll(): Promise<string[]> {
        const clients: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 1000; pages++) {
          const page = await broker.presence(channel, cursor, 2);
          clients.push(...page.clients.map((entry) => entry.client));
          cursor = page.cursor;
          if (cursor === undefined) break;
        }
        return [...new Set(clients)].sort();
      }

      it('lists the clients present with their info, and counts clients and distinct users', async () => {
        await broker.presenceAdd(channel, [alice1, alice2], 60_000);
        await broker.presenceAdd(channel, [bob], 60_000);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 3, users: 2, expired: [] });
        const page = await broker.presence(channel, undefined, 100);
        expect(page.cursor).toBeUndefined();
        expect(page.clients.find((entry) => entry.client === 'c-alice-1')).toEqual(alice1);
        expect(await readAll()).toEqual(['c-alice-1', 'c-alice-2', 'c-bob']);
        expect(await broker.presenceStats(`${channel}-empty`)).toEqual({ clients: 0, users: 0, expired: [] });
      });

      it('counts a refreshed client once, and removes clients at once', async () => {
        await broker.presenceAdd(channel, [alice1, alice2, bob], 60_000);
        await broker.presenceAdd(channel, [alice1, bob], 60_000);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 3, users: 2, expired: [] });
        await broker.presenceRemove(channel, [alice1]);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 2, users: 2, expired: [] });
        await broker.presenceRemove(channel, [alice2, alice2]);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 1, users: 1, expired: [] });
        expect(await readAll()).toEqual(['c-bob']);
      });

      it('counts users whose id holds a tab or JSON-looking text correctly', async () => {
        const odd = oddEntry();
        await broker.presenceAdd(channel, [odd, bob], 60_000);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 2, users: 2, expired: [] });
        expect((await broker.presence(channel, undefined, 100)).clients).toContainEqual(odd);
        await broker.presenceRemove(channel, [odd]);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 1, users: 1, expired: [] });
      });

      it('reports the clients that expired when adding, and those of them that come back or leave', async () => {
        const none = { expired: [], back: [] };
        expect(await broker.presenceAdd(channel, [alice1, oddEntry()], 100)).toEqual(none);
        expect(await broker.presenceAdd(channel, [bob, alice2], 60_000)).toEqual(none);
        await new Promise((resolve) => setTimeout(resolve, 250));
        // Each expired client is reported once, with its entry, by the call that removed it; one that
        // comes back is reported back (its leave was announced: its join must be again).
        const { expired, back } = await broker.presenceAdd(channel, [bob, alice1], 60_000);
        expect(expired.sort((a, b) => a.client.localeCompare(b.client))).toEqual([alice1, oddEntry()]);
        expect(back).toEqual(['c-alice-1']);
        expect(await broker.presenceAdd(channel, [bob, alice1], 60_000)).toEqual(none);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 3, users: 2, expired: [] });
        // The expired one leaving is reported as announced already; a present one leaving is not.
        expect(await broker.presenceRemove(channel, [oddEntry(), bob])).toEqual(['c-odd']);
        expect(await broker.presenceRemove(channel, [oddEntry()])).toEqual([]);
        // A client that never expired is never reported back.
        expect(await broker.presenceAdd(channel, [bob], 60_000)).toEqual(none);
      });

      it('drops clients that were not refreshed in time, and reports each to the read that drops it', async () => {
        await broker.presenceAdd(channel, [alice1], 100);
        await broker.presenceAdd(channel, [bob], 60_000);
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect(await broker.presenceStats(channel)).toEqual({ clients: 1, users: 1, expired: [alice1] });
        expect(await readAll()).toEqual(['c-bob']);
        await broker.presenceAdd(channel, [alice2], 100);
        await broker.presenceAdd(channel, [bob], 60_000);
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect(await broker.presence(channel, undefined, 100)).toEqual({
          clients: [bob],
          cursor: undefined,
          expired: [alice2],
        });
      });

      it('pages through many clients', async () => {
        const many = Array.from({ length: 1200 }, (_, i) => ({ client: `c-${i}`, user: `u-${i % 300}` }));
        await broker.presenceAdd(channel, many, 60_000);
        expect(await broker.presenceStats(channel)).toEqual({ clients: 1200, users: 300, expired: [] });
        const clients: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await broker.presence(channel, cursor, 500);
          clients.push(...page.clients.map((entry) => entry.client));
          cursor = page.cursor;
        } while (cursor !== undefined);
        expect(new Set(clients).size).toBe(1200);
      });
    });
  });
}
