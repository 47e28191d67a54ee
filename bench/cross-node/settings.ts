/** The cross-node scenario's flags and their defaults. */
import { parseArgs } from 'node:util';
import { intFlag, intListFlag, numberFlag } from '../lib/args.ts';

export const OPTIONS = {
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  concurrency: { type: 'string' },
  rates: { type: 'string' },
  subscribers: { type: 'string' },
  payload: { type: 'string' },
} as const;

/** What one run measures; every field is bounded so that every loop is. */
export interface CrossNodeSettings {
  /** Measured seconds per step (default 10; `--quick` 3). */
  readonly seconds: number;
  /** Unmeasured seconds before each step's measurement (default 2; `--quick` 0.5). */
  readonly warmupSeconds: number;
  /** Throughput steps: publishers in flight, half on each node (default 32,64; `--quick` 32). */
  readonly concurrency: readonly number[];
  /** Latency steps: publications per second on node A (default 500,2000). */
  readonly rates: readonly number[];
  /** Latency subscribers on node B (default 100). */
  readonly subscribers: number;
  /** Size of each publication's JSON data in bytes (default 100). */
  readonly payloadBytes: number;
  readonly quick: boolean;
}

export function crossNodeSettings(args: string[], quick: boolean): CrossNodeSettings {
  const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  return {
    seconds: numberFlag('seconds', values.seconds, quick ? 3 : 10, 0.5, 600),
    warmupSeconds: numberFlag('warmup', values.warmup, quick ? 0.5 : 2, 0, 60),
    concurrency: intListFlag('concurrency', values.concurrency, quick ? [32] : [32, 64], 1, 1024),
    rates: intListFlag('rates', values.rates, [500, 2000], 1, 100_000),
    subscribers: intFlag('subscribers', values.subscribers, 100, 1, 10_000),
    payloadBytes: intFlag('payload', values.payload, 100, 80, 60_000),
    quick,
  };
}
