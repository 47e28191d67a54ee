import { describe, expect, it } from 'vitest';
import { FlushScheduler } from './flush-scheduler.ts';

const a = Buffer.from('{"a":1}');
const b = Buffer.from('{"b":2}');

describe('FlushScheduler', () => {
  it('flushes each dirty target once, in the next turn', async () => {
    const scheduler = new FlushScheduler();
    let flushed = 0;
    const target = { flush: () => (flushed += 1) };
    scheduler.markDirty(target);
    scheduler.markDirty(target);
    expect(flushed).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toBe(1);
  });

  it('flushes in the same turn what a flush marks dirty', async () => {
    const scheduler = new FlushScheduler();
    const order: string[] = [];
    const second = { flush: () => order.push('second') };
    const first = {
      flush: () => {
        order.push('first');
        scheduler.markDirty(second);
      },
    };
    scheduler.markDirty(first);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['first', 'second']);
  });

  it('keeps the targets a throwing flush left behind for the next turn', async () => {
    const scheduler = new FlushScheduler();
    const flushed: string[] = [];
    scheduler.markDirty({
      flush: () => {
        throw new Error('bug');
      },
    });
    scheduler.markDirty({ flush: () => flushed.push('after') });
    const thrown = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    expect(await thrown).toMatchObject({ message: 'bug' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toEqual(['after']);
  });

  it('joins runs with newlines, sharing one buffer for the same messages within a flush', async () => {
    const scheduler = new FlushScheduler();
    const joined: Buffer[] = [];
    const target = (parts: Buffer[]) => ({ flush: () => joined.push(scheduler.join(parts)) });
    for (const parts of [[a, b], [a, b], [b, a], [a]]) scheduler.markDirty(target(parts));
    await new Promise((resolve) => setImmediate(resolve));
    expect(joined.map(String)).toEqual([
      '{"a":1}\n{"b":2}',
      '{"a":1}\n{"b":2}',
      '{"b":2}\n{"a":1}',
      '{"a":1}',
    ]);
    expect(joined[1]).toBe(joined[0]);
    expect(joined[2]).not.toBe(joined[0]);
    expect(joined[3]).toBe(a);
  });

  it('does not share outside a flush', () => {
    const scheduler = new FlushScheduler();
    expect(scheduler.join([a, b])).not.toBe(scheduler.join([a, b]));
  });
});
