/**
 * The soak's verdict on memory: is each node's memory flat after the warm-up? Two readings per node are
 * judged, both taken after a forced full garbage collection (so that garbage waiting to be collected,
 * which swings by tens of MB between collections, does not pass for growth):
 *
 * - the least-squares slope of the post-GC heap over the post-warm-up period must not exceed
 *   {@link HEAP_SLOPE_LIMIT_MB_PER_HOUR} (5 MB/hour: 2.5 MB over a 30-minute soak, a leak of about
 *   300 bytes for every one of the ~9,000 reconnects such a run makes, or of 5 bytes per publication);
 * - the post-GC heap at the end must not exceed the one at the end of the warm-up by more than
 *   {@link HEAP_GROWTH_LIMIT} (20%), which catches a step that a slope over few readings could hide.
 *
 * RSS is judged more loosely, from the 5-second samples: its slope must not exceed
 * {@link RSS_SLOPE_LIMIT_MB_PER_HOUR}. The allocator returns memory to the system late and in steps,
 * so RSS moves by several MB without any leak; a leak of native memory (sockets, buffers) shows in it
 * and not in the heap. Memory is not judged at all when the post-warm-up period is shorter than
 * {@link MIN_JUDGED_MINUTES}: a few minutes' readings cannot tell a slope from noise.
 */

export const HEAP_SLOPE_LIMIT_MB_PER_HOUR = 5;
export const HEAP_GROWTH_LIMIT = 0.2;
export const RSS_SLOPE_LIMIT_MB_PER_HOUR = 20;
export const MIN_JUDGED_MINUTES = 10;

/** A reading at `t` seconds since the load started, in MB. */
export type Point = readonly [t: number, mb: number];

/** The least-squares slope of `points` in MB/hour (NaN for fewer than two distinct times). */
export function slopePerHour(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanT = points.reduce((sum, [t]) => sum + t, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [t, y] of points) {
    covariance += (t - meanT) * (y - meanY);
    variance += (t - meanT) ** 2;
  }
  return variance === 0 ? Number.NaN : (covariance / variance) * 3600;
}

/** One node's memory over the soak, as the verdict needs it. */
export interface NodeMemory {
  readonly name: string;
  /** Post-GC heap used, MB: at the end of the warm-up, every few minutes after, and at the end. */
  readonly gcHeap: readonly Point[];
  /** Post-GC RSS at the same moments, MB. */
  readonly gcRss: readonly Point[];
  /** Heap used from the 5-second samples after the warm-up, MB. */
  readonly heap: readonly Point[];
  /** RSS from the 5-second samples after the warm-up, MB. */
  readonly rss: readonly Point[];
  /**
   * V8 heap committed (all spaces, used or not) from the same samples, MB: with {@link rss}, it tells
   * whether RSS grows inside the V8 heap or outside it (sockets, buffers, the allocator).
   */
  readonly committed: readonly Point[];
}

/** The figures of one node and what broke a limit. */
export interface NodeVerdict {
  readonly name: string;
  readonly gcHeapStart: number;
  readonly gcHeapEnd: number;
  readonly gcHeapSlope: number;
  readonly gcRssStart: number;
  readonly gcRssEnd: number;
  /** Slopes of the 5-second samples, MB/hour. */
  readonly heapSlope: number;
  readonly rssSlope: number;
  /** Slope of the V8 heap committed, and of RSS minus it, MB/hour. */
  readonly committedSlope: number;
  readonly outsideHeapSlope: number;
  /** Each limit broken, in words; empty when flat (or not judged). */
  readonly problems: readonly string[];
}

/** Judges one node; `judged` false reports the figures without limits (a run too short to tell). */
export function judgeNode(memory: NodeMemory, judged: boolean): NodeVerdict {
  const gcHeapStart = memory.gcHeap[0]?.[1] ?? Number.NaN;
  const gcHeapEnd = memory.gcHeap.at(-1)?.[1] ?? Number.NaN;
  const verdict = {
    name: memory.name,
    gcHeapStart,
    gcHeapEnd,
    gcHeapSlope: slopePerHour(memory.gcHeap),
    gcRssStart: memory.gcRss[0]?.[1] ?? Number.NaN,
    gcRssEnd: memory.gcRss.at(-1)?.[1] ?? Number.NaN,
    heapSlope: slopePerHour(memory.heap),
    rssSlope: slopePerHour(memory.rss),
    committedSlope: slopePerHour(memory.committed),
    outsideHeapSlope: slopePerHour(outsideHeap(memory.rss, memory.committed)),
  };
  const problems: string[] = [];
  if (judged) {
    if (!(verdict.gcHeapSlope <= HEAP_SLOPE_LIMIT_MB_PER_HOUR))
      problems.push(
        `${memory.name}: post-GC heap grows ${verdict.gcHeapSlope.toFixed(2)} MB/hour (limit ${HEAP_SLOPE_LIMIT_MB_PER_HOUR})`,
      );
    if (!(gcHeapEnd <= gcHeapStart * (1 + HEAP_GROWTH_LIMIT)))
      problems.push(
        `${memory.name}: post-GC heap ${gcHeapStart.toFixed(1)} → ${gcHeapEnd.toFixed(1)} MB (limit +${HEAP_GROWTH_LIMIT * 100}%)`,
      );
    if (!(verdict.rssSlope <= RSS_SLOPE_LIMIT_MB_PER_HOUR))
      problems.push(
        `${memory.name}: RSS grows ${verdict.rssSlope.toFixed(2)} MB/hour (limit ${RSS_SLOPE_LIMIT_MB_PER_HOUR})`,
      );
  }
  return { ...verdict, problems };
}

/** RSS minus the V8 heap committed at the same moments. */
function outsideHeap(rss: readonly Point[], committed: readonly Point[]): Point[] {
  const byTime = new Map(committed.map(([t, mb]) => [t, mb]));
  return rss.flatMap(([t, mb]) => {
    const heap = byTime.get(t);
    return heap === undefined ? [] : [[t, mb - heap] as const];
  });
}
