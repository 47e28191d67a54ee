import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

const bounds = { minDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('doubles its bound per attempt up to the maximum, with the delay anywhere below it', () => {
    expect([0, 1, 2, 3, 4, 20].map((attempt) => backoffDelay(attempt, bounds, () => 0.999_999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(5, bounds, () => 0)).toBe(0);
    expect(backoffDelay(1, bounds, () => 0.5)).toBe(100);
  });
});
