import { describe, expect, it } from 'vitest';
import { Emitter } from './emitter.ts';

class Events extends Emitter<{ tick: { n: number } }> {
  fire(n: number) {
    this.emit('tick', { n });
  }
}

describe('Emitter', () => {
  it('calls listeners with one context object, once-listeners once, and stops after off', () => {
    const events = new Events();
    const seen: string[] = [];
    const off = events.on('tick', ({ n }) => seen.push(`on ${n}`));
    events.once('tick', ({ n }) => seen.push(`once ${n}`));
    events.fire(1);
    off();
    events.fire(2);
    expect(seen).toEqual(['on 1', 'once 1']);
  });

  it('keeps calling the other listeners when one throws, and reports the error', async () => {
    const events = new Events();
    const seen: number[] = [];
    const reported = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    events.on('tick', () => {
      throw new Error('listener bug');
    });
    events.on('tick', ({ n }) => seen.push(n));
    events.fire(7);
    expect(seen).toEqual([7]);
    expect(await reported).toMatchObject({ message: 'listener bug' });
  });
});
