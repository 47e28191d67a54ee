/**
 * The soak's arithmetic (soak/lib): the stream check that counts lost and duplicated publications, the
 * memory verdict, the `/metrics` parser and the chart's ticks. The soak itself is a long script
 * (`npm run soak`), not a test.
 */
import { describe, expect, it } from 'vitest';
import { judgeNode, slopePerHour, type NodeMemory, type Point } from '../../soak/lib/analysis.ts';
import { niceTicks } from '../../soak/lib/chart.ts';
import { parseMetrics } from '../../soak/lib/prometheus.ts';
import { emptyTally, StreamCheck } from '../../soak/lib/stream-check.ts';

const at = (offset: number, epoch = 'e1') => ({ offset, epoch });

describe('StreamCheck', () => {
  it('counts publications in order, and recovered ones apart', () => {
    const tally = emptyTally();
    const check = new StreamCheck(tally);
    check.subscribed({ offset: 0, epoch: 'e1' }, undefined);
    expect([check.push(at(1)), check.push(at(2))]).toEqual([true, true]);
    check.subscribed({ offset: 4, epoch: 'e1', recovered: true, publications: [at(3), at(4)] }, at(2));
    check.push(at(5));
    expect(tally).toEqual({ ...emptyTally(), live: 3, recovered: 2 });
    expect(check.position).toEqual(at(5));
  });

  it('counts gaps with what they skipped, duplicates, and epoch changes', () => {
    const tally = emptyTally();
    const check = new StreamCheck(tally);
    check.subscribed({ offset: 10, epoch: 'e1' }, undefined);
    check.push(at(11));
    expect(check.push(at(14))).toBe(false);
    check.push(at(14));
    check.push(at(12));
    check.push(at(1, 'e2'));
    expect(tally).toMatchObject({ live: 2, gaps: 1, missing: 2, duplicates: 2, epochChanges: 1 });
    expect(check.position).toEqual(at(1, 'e2'));
  });

  it('counts a recovery that stops short of the reply position as a gap, and a refused one apart', () => {
    const tally = emptyTally();
    const check = new StreamCheck(tally);
    check.subscribed({ offset: 9, epoch: 'e1', recovered: true, publications: [at(6)] }, at(5));
    expect(tally).toMatchObject({ recovered: 1, gaps: 1, missing: 3 });
    expect(check.position).toEqual(at(9));
    check.subscribed({ offset: 20, epoch: 'e1', recovered: false }, at(9));
    expect(tally.unrecoverable).toBe(1);
    expect(check.position).toEqual(at(20));
  });
});

describe('memory verdict', () => {
  const line = (mbPerHour: number, start: number, minutes: number, every: number): Point[] =>
    Array.from({ length: Math.floor(minutes / every) + 1 }, (_, k) => {
      const t = k * every * 60;
      return [t, start + (mbPerHour * t) / 3600] as const;
    });

  it('fits a least-squares slope in MB/hour', () => {
    expect(slopePerHour(line(12, 40, 30, 5))).toBeCloseTo(12, 9);
    // A sawtooth around a flat line averages out.
    const saw = Array.from({ length: 360 }, (_, k): Point => [k * 5, 40 + (k % 6) * 3]);
    expect(Math.abs(slopePerHour(saw))).toBeLessThan(1);
    expect(slopePerHour([[0, 1]])).toBeNaN();
  });

  const memory = (gcHeapSlope: number, rssSlope: number): NodeMemory => ({
    name: 'node-0',
    gcHeap: line(gcHeapSlope, 36, 27, 5),
    gcRss: line(rssSlope, 150, 27, 5),
    heap: line(gcHeapSlope, 45, 27, 5 / 60),
    rss: line(rssSlope, 150, 27, 5 / 60),
    committed: line(rssSlope / 2, 80, 27, 5 / 60),
  });

  it('passes flat memory and fails growth past the limits', () => {
    const flat = judgeNode(memory(1, 5), true);
    expect(flat.problems).toEqual([]);
    // Half the RSS growth in the committed heap, half outside it.
    expect([flat.committedSlope, flat.outsideHeapSlope].map((v) => +v.toFixed(6))).toEqual([2.5, 2.5]);
    expect(judgeNode(memory(6, 5), true).problems).toEqual([
      expect.stringContaining('post-GC heap grows 6.00 MB/hour'),
    ]);
    expect(judgeNode(memory(1, 25), true).problems).toEqual([expect.stringContaining('RSS grows 25.00')]);
    const step = {
      ...memory(0, 0),
      gcHeap: [
        [0, 36],
        [60, 36],
        [120, 44],
      ] as Point[],
    };
    expect(judgeNode(step, true).problems).toContainEqual(expect.stringContaining('36.0 → 44.0 MB'));
  });

  it('reports but does not judge a run too short to tell', () => {
    const verdict = judgeNode(memory(50, 50), false);
    expect(verdict.problems).toEqual([]);
    expect(verdict.gcHeapSlope).toBeCloseTo(50, 6);
  });
});

describe('parseMetrics', () => {
  it('sums the series of each name and skips comments and buckets', () => {
    const text = [
      '# HELP herald_connections open client connections',
      'herald_connections{transport="websocket"} 998',
      'herald_connections{transport="sse"} 2',
      'process_resident_memory_bytes 161000000',
      'herald_delivery_lag_seconds_bucket{path="live",le="0.001"} 5',
      'nodejs_eventloop_lag_p99_seconds 0.0118',
    ].join('\n');
    const values = parseMetrics(text);
    expect(values.get('herald_connections')).toBe(1000);
    expect(values.get('process_resident_memory_bytes')).toBe(161_000_000);
    expect(values.get('nodejs_eventloop_lag_p99_seconds')).toBe(0.0118);
    expect(values.has('herald_delivery_lag_seconds_bucket')).toBe(false);
  });
});

describe('niceTicks', () => {
  it('gives round steps from 0 past the maximum', () => {
    expect(niceTicks(30)).toEqual([0, 10, 20, 30]);
    expect(niceTicks(162)).toEqual([0, 50, 100, 150, 200]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
