/** Counters by key, and the violations a fuzzer found (the first few of each kind kept in full). */

export class Tally {
  readonly #counts = new Map<string, number>();

  add(key: string, by = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + by);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  get total(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    return total;
  }

  /** Entries sorted by key, numbers in numeric order. */
  entries(): [string, number][] {
    return [...this.#counts].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  }
}

/** Examples kept per kind of violation (FUZZ_EXAMPLES=1000 to see them all). */
const EXAMPLES_PER_KIND = Number(process.env['FUZZ_EXAMPLES'] ?? 5);

export class Violations {
  readonly counts = new Tally();
  readonly examples: string[] = [];
  readonly #kept = new Tally();

  add(kind: string, detail: string): void {
    this.counts.add(kind);
    if (this.#kept.get(kind) >= EXAMPLES_PER_KIND) return;
    this.#kept.add(kind);
    this.examples.push(`${kind}: ${detail}`);
  }

  get total(): number {
    return this.counts.total;
  }
}
