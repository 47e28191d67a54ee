import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeliveryCanary } from './delivery-canary.ts';

describe('DeliveryCanary', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function canary(deliver: (sequence: number) => boolean, publishFails = false) {
    const events: string[] = [];
    const check: DeliveryCanary = new DeliveryCanary({
      intervalMs: 100,
      timeoutMs: 300,
      publish: async (sequence) => {
        if (publishFails) throw new Error('engine down');
        if (deliver(sequence)) check.received(sequence);
      },
      onBroken: (overdue) => events.push(`broken ${overdue}`),
      onRepaired: () => events.push('repaired'),
    });
    check.start();
    return { check, events };
  }

  it('stays healthy while probes come back, even when the engine hands them back at once', async () => {
    const { check, events } = canary(() => true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(check.healthy).toBe(true);
    expect(events).toEqual([]);
    check.stop();
  });

  it('reports a path that stopped delivering once per timeout, and its repair', async () => {
    let delivering = true;
    const { check, events } = canary(() => delivering);
    await vi.advanceTimersByTimeAsync(500);
    delivering = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(check.healthy).toBe(false);
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatch(/^broken 300$/);
    delivering = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(check.healthy).toBe(true);
    expect(events.at(-1)).toBe('repaired');
    check.stop();
  });

  it('says nothing when probes cannot be published (the engine is down: readiness covers it)', async () => {
    const { check, events } = canary(() => false, true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(check.healthy).toBe(true);
    expect(events).toEqual([]);
    check.stop();
  });
});
