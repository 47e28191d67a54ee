import { describe, expect, it } from 'vitest';
import { MemoryBroker } from './memory-broker.ts';

const quiet = {
  onPublication: () => undefined,
  onControl: () => undefined,
  onDeliveryInterrupted: () => undefined,
};

const policy = { size: 10, ttlMs: 1000 };

describe('MemoryBroker expiry', () => {
  it('drops history after its lifetime but keeps the epoch, and forgets the channel after the meta lifetime', async () => {
    let now = 1_000_000;
    const broker = new MemoryBroker({ metaTtlMs: 5000, now: () => now });
    await broker.start(quiet, 'node');
    const first = await broker.publish('a', { data: '1', history: policy });
    now += 1500;
    const expired = await broker.history('a', { limit: 10, reverse: false, history: policy });
    expect(expired.publications).toEqual([]);
    expect(expired.position).toEqual(first.position);
    now += 10_000;
    broker.sweep();
    const fresh = await broker.history('a', { limit: 10, reverse: false, history: policy });
    expect(fresh.position.offset).toBe(0);
    expect(fresh.position.epoch).not.toBe(first.position?.epoch);
    await broker.close();
  });

  it('forgets idempotency keys after their window', async () => {
    let now = 0;
    const broker = new MemoryBroker({ now: () => now });
    await broker.start(quiet, 'node');
    const options = { data: '1', history: policy, idempotencyKey: 'k', idempotencyTtlMs: 100 };
    await broker.publish('a', options);
    expect((await broker.publish('a', options)).duplicate).toBe(true);
    now += 200;
    const later = await broker.publish('a', options);
    expect(later).toMatchObject({ duplicate: false, position: { offset: 2 } });
    await broker.close();
  });

  it('keeps the epoch of a channel the node follows, however quiet', async () => {
    let now = 0;
    const broker = new MemoryBroker({ metaTtlMs: 5000, now: () => now });
    await broker.start(quiet, 'node');
    await broker.subscribe('a');
    const first = await broker.history('a', { limit: 0, reverse: false, history: policy });
    now += 60_000;
    broker.sweep();
    const later = await broker.history('a', { limit: 0, reverse: false, history: policy });
    expect(later.position).toEqual(first.position);
    await broker.unsubscribe('a');
    now += 60_000;
    broker.sweep();
    const gone = await broker.history('a', { limit: 0, reverse: false, history: policy });
    expect(gone.position.epoch).not.toBe(first.position.epoch);
    await broker.close();
  });
});
