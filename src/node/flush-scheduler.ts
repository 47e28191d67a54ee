/**
 * Coalesces writes: everything queued for a connection during one event-loop turn leaves as one
 * frame and one write. `setImmediate` runs right after the current I/O phase, so light traffic waits
 * for nothing, while a burst (many publications arriving in one read from the engine, or a fan-out
 * to thousands of sockets) is batched per socket.
 */
export interface Flushable {
  flush(): void;
}

export class FlushScheduler {
  #dirty = new Set<Flushable>();
  #scheduled = false;

  markDirty(target: Flushable): void {
    this.#dirty.add(target);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  readonly #run = (): void => {
    const dirty = this.#dirty;
    this.#dirty = new Set();
    this.#scheduled = false;
    for (const target of dirty) target.flush();
  };
}
