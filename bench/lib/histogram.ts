/**
 * A latency histogram with bounded memory: whole microseconds, exact below 256 µs, then 128 buckets
 * per power of two (a bucket is at most 0.8% wide). Millions of samples cost nothing but counts.
 * The maximum is kept exactly.
 */
const SUB_BUCKETS = 128;
const EXACT = 2 * SUB_BUCKETS;
/** Values are capped at 2^31 µs (about 36 minutes); far beyond any step's length. */
const MAX_MICROS = 2 ** 31 - 1;
const BUCKETS = EXACT + (31 - 8) * SUB_BUCKETS;

export interface Percentiles {
  readonly count: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** {@link LatencyHistogram.export}: non-empty buckets as [index, count], times in microseconds. */
export interface HistogramData {
  readonly buckets: readonly (readonly [number, number])[];
  readonly count: number;
  readonly sum: number;
  readonly max: number;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one sample in milliseconds (negative values, from clock granularity, count as 0). */
  record(ms: number): void {
    const micros = Math.min(MAX_MICROS, Math.max(0, Math.round(ms * 1000)));
    const index = indexOf(micros);
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#count += 1;
    this.#sum += micros;
    if (micros > this.#max) this.#max = micros;
  }

  get count(): number {
    return this.#count;
  }

  /** The counts in a compact form that survives JSON (for histograms recorded in other processes). */
  export(): HistogramData {
    const buckets: [number, number][] = [];
    this.#counts.forEach((count, index) => {
      if (count > 0) buckets.push([index, count]);
    });
    return { buckets, count: this.#count, sum: this.#sum, max: this.#max };
  }

  /** Adds the samples of an exported histogram to this one. */
  merge(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.#counts[index] = (this.#counts[index] ?? 0) + count;
    this.#count += data.count;
    this.#sum += data.sum;
    if (data.max > this.#max) this.#max = data.max;
  }

  /** The value at quantile `q` (0..1) in milliseconds: the upper edge of its bucket, so never too low. */
  quantile(q: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(upperEdge(i), this.#max) / 1000;
    }
    return this.#max / 1000;
  }

  percentiles(): Percentiles {
    return {
      count: this.#count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.#count === 0 ? Number.NaN : this.#max / 1000,
      mean: this.#count === 0 ? Number.NaN : this.#sum / this.#count / 1000,
    };
  }
}

function indexOf(micros: number): number {
  if (micros < EXACT) return micros;
  const shift = Math.floor(Math.log2(micros)) - 7; // micros >> shift is in [128, 256)
  return EXACT + (shift - 1) * SUB_BUCKETS + (Math.floor(micros / 2 ** shift) - SUB_BUCKETS);
}

/** The largest value that falls in bucket `index`. */
function upperEdge(index: number): number {
  if (index < EXACT) return index;
  const shift = Math.floor((index - EXACT) / SUB_BUCKETS) + 1;
  const sub = ((index - EXACT) % SUB_BUCKETS) + SUB_BUCKETS;
  return (sub + 1) * 2 ** shift - 1;
}
