/**
 * Coalesces writes: everything queued for a connection during one event-loop turn leaves as one
 * frame and one write. `setImmediate` runs right after the current I/O phase, so light traffic waits
 * for nothing, while a burst (many publications arriving in one read from the engine, or a fan-out
 * to thousands of sockets) is batched per socket.
 *
 * Subscribers of a channel usually have the same messages queued in a turn, so the scheduler also
 * joins each distinct run of messages once per turn and hands every connection with that run the
 * same buffer ({@link FlushScheduler.join}); the transport then frames that buffer once too.
 */
export interface Flushable {
  flush(): void;
}

const NEWLINE = Buffer.from('\n');
/** Distinct runs remembered per first message in one turn; more are joined without sharing. */
const RUNS_PER_FIRST_MESSAGE = 8;

interface JoinedRun {
  readonly parts: readonly Buffer[];
  readonly joined: Buffer;
}

export class FlushScheduler {
  #dirty = new Set<Flushable>();
  #scheduled = false;
  /** While flushing: runs joined this turn, by their first message. */
  #joined: Map<Buffer, JoinedRun[]> | undefined;

  markDirty(target: Flushable): void {
    this.#dirty.add(target);
    if (!this.#scheduled) this.#schedule();
  }

  /**
   * `parts` joined by newlines. During a flush, connections queuing the very same message objects in
   * the same order get the very same buffer.
   */
  join(parts: readonly Buffer[]): Buffer {
    const first = parts[0];
    if (parts.length === 1 && first !== undefined) return first;
    const cache = this.#joined;
    if (cache === undefined || first === undefined) return joinLines(parts);
    const runs = cache.get(first);
    if (runs !== undefined) {
      for (const run of runs) if (sameParts(run.parts, parts)) return run.joined;
    }
    const joined = joinLines(parts);
    if (runs === undefined) cache.set(first, [{ parts, joined }]);
    else if (runs.length < RUNS_PER_FIRST_MESSAGE) runs.push({ parts, joined });
    return joined;
  }

  /**
   * Flushes until nothing is dirty: a target flushed now may dirty others (the channel fan-out queues
   * publications for connections), and they leave in this turn too.
   */
  readonly #run = (): void => {
    this.#joined = new Map();
    let dirty = this.#dirty;
    try {
      while (this.#dirty.size > 0) {
        dirty = this.#dirty;
        this.#dirty = new Set();
        for (const target of dirty) {
          dirty.delete(target);
          target.flush();
        }
      }
    } finally {
      this.#joined = undefined;
      this.#scheduled = false;
      // Only after a throw: the targets not flushed yet wait for the next turn.
      for (const target of dirty) this.#dirty.add(target);
      if (this.#dirty.size > 0) this.#schedule();
    }
  };

  #schedule(): void {
    this.#scheduled = true;
    setImmediate(this.#run);
  }
}

function sameParts(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function joinLines(parts: readonly Buffer[]): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    if (pieces.length > 0) pieces.push(NEWLINE);
    pieces.push(part);
  }
  return Buffer.concat(pieces);
}
