import { describe, expect, it } from 'vitest';
import { RESTART_DEFAULTS, RestartPolicy } from './restart-policy.ts';

describe('RestartPolicy', () => {
  it('backs off exponentially while a worker keeps dying at start, then gives up', () => {
    const policy = new RestartPolicy();
    const decisions = Array.from({ length: 5 }, () => policy.onExit(1, undefined));
    expect(decisions).toEqual([
      { action: 'restart', delayMs: 250, quickFailures: 1 },
      { action: 'restart', delayMs: 500, quickFailures: 2 },
      { action: 'restart', delayMs: 1000, quickFailures: 3 },
      { action: 'restart', delayMs: 2000, quickFailures: 4 },
      { action: 'give-up', quickFailures: 5 },
    ]);
  });

  it('counts a worker that dies soon after it listened as a quick failure', () => {
    const policy = new RestartPolicy();
    policy.onExit(1, undefined);
    expect(policy.onExit(1, RESTART_DEFAULTS.stableAfterMs - 1)).toMatchObject({ quickFailures: 2 });
  });

  it('starts again from the shortest delay after a worker ran well', () => {
    const policy = new RestartPolicy();
    for (let i = 0; i < 4; i++) policy.onExit(1, undefined);
    expect(policy.onExit(1, RESTART_DEFAULTS.stableAfterMs)).toEqual({
      action: 'restart',
      delayMs: 250,
      quickFailures: 0,
    });
    expect(policy.onExit(1, 5)).toEqual({ action: 'restart', delayMs: 250, quickFailures: 1 });
  });

  it('counts each worker on its own and caps the delay', () => {
    const policy = new RestartPolicy({ ...RESTART_DEFAULTS, maxDelayMs: 600, maxQuickFailures: 10 });
    for (let i = 0; i < 3; i++) policy.onExit(1, undefined);
    expect(policy.onExit(1, undefined)).toEqual({ action: 'restart', delayMs: 600, quickFailures: 4 });
    expect(policy.onExit(2, undefined)).toEqual({ action: 'restart', delayMs: 250, quickFailures: 1 });
  });
});
