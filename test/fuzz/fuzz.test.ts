/**
 * The short fuzzing run inside `npm test`: 5,000 protocol frames and one pass over the HTTP API
 * against a fresh Herald process on the memory engine, and a smaller run on Redis. `npm run fuzz` runs the full version (docs/reliability.md).
 */
import { describe, expect, it } from 'vitest';
import { ConnectionScript, FRAME_KINDS } from './frames.ts';
import { rawFrame } from './raw-connections.ts';
import { formatSummary, runFuzz } from './fuzz.ts';
import { HEAP_GROWTH_BOUND_BYTES } from './protocol-fuzzer.ts';

const SEED = 20_251_108;

describe('the frame generator', () => {
  it('draws the same frames from the same seed, and others from another', () => {
    const frames = (seed: number, index: number) => {
      const script = new ConnectionScript(seed, index, { maxFrameBytes: 64 * 1024 });
      const out: string[] = [];
      for (let frame = script.next(); frame !== undefined; frame = script.next()) {
        out.push(`${frame.kind} ${frame.binary} ${frame.closes} ${frame.payload.toString('base64')}`);
      }
      return out;
    };
    for (const index of [0, 1, 17]) expect(frames(SEED, index)).toEqual(frames(SEED, index));
    expect(frames(SEED, 3)).not.toEqual(frames(SEED + 1, 3));
    expect(rawFrame(SEED, 5, 1024)).toEqual(rawFrame(SEED, 5, 1024));
  });
});

describe('the short fuzzing run', () => {
  it('survives 5,000 hostile frames and a pass over the HTTP API, answering only with documented codes', async () => {
    const result = await runFuzz({ seed: SEED, frames: 5000, apiRounds: 3, sseFrames: 200 });
    const summary = formatSummary(result);
    expect(result.crashed, summary).toBeUndefined();
    expect(result.protocol.violations.examples, summary).toEqual([]);
    expect(result.api.violations.examples, summary).toEqual([]);
    expect(result.errorLogs, summary).toEqual([]);
    expect(result.protocol.framesSent).toBeGreaterThanOrEqual(5000);
    expect(result.protocol.control.roundTrips, summary).toBeGreaterThan(0);
    expect(result.protocol.control.failures, summary).toBe(0);
    expect(result.protocol.heapGrowth, summary).toBeLessThanOrEqual(HEAP_GROWTH_BOUND_BYTES);
    // Every kind of frame was sent, and the server answered with results as well as errors.
    const kinds = new Set(result.protocol.framesByKind.entries().map(([kind]) => kind));
    for (const kind of FRAME_KINDS) expect(kinds, `no ${kind} frame`).toContain(kind);
    expect(result.protocol.replies.get('result')).toBeGreaterThan(1000);
    expect(result.api.requests).toBeGreaterThan(500);
  }, 60_000);

  it('finds nothing on the Redis engine either (2,000 frames and a pass over the HTTP API)', async () => {
    const result = await runFuzz({ seed: SEED, frames: 2000, apiRounds: 1, sseFrames: 100, engine: 'redis' });
    const summary = formatSummary(result);
    expect(result.engine).toBe('redis');
    expect(result.crashed, summary).toBeUndefined();
    expect(result.protocol.violations.examples, summary).toEqual([]);
    expect(result.api.violations.examples, summary).toEqual([]);
    expect(result.errorLogs, summary).toEqual([]);
    expect(result.protocol.replies.get('result')).toBeGreaterThan(300);
  }, 60_000);
});
