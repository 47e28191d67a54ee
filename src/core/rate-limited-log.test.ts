import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { RateLimitedLog } from './rate-limited-log.ts';

describe('RateLimitedLog', () => {
  it('writes at most the limit per interval, then says how many it left out', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = new RateLimitedLog(pino(sink), 'warn', { limit: 2, intervalMs: 1000 });
    for (let i = 0; i < 5; i++) log.log({ i }, 'auth failed', 10_000 + i);
    log.log({ i: 5 }, 'auth failed', 11_000);
    expect(lines.map((line) => [line['i'], line['suppressed'], line['level']])).toEqual([
      [0, undefined, 40],
      [1, undefined, 40],
      [5, 3, 40],
    ]);
  });
});
