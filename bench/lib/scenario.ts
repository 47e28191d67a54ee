/**
 * What a benchmark scenario looks like to the dispatcher (`bench/run.ts`): its own flags, a run that
 * returns result rows, a readable report section and a short summary.
 */
import type { ParseArgsConfig } from 'node:util';

/** One measured figure, as stored in `bench/results/latest.json`. */
export interface ResultRow {
  /** The scenario that measured it, e.g. `cross-node`. */
  readonly scenario: string;
  /** What was measured: `herald`, `socket.io`, `ws-frame` or `ws-batch`. */
  readonly system: string;
  /** Snake-case name, e.g. `publications_per_s`, `latency_p99`. */
  readonly metric: string;
  readonly value: number;
  /** `1/s`, `ms`, `%` (of one core), `count`, … */
  readonly unit: string;
  /** The settings the figure depends on (rate, subscribers, seconds, …). */
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

/** What a scenario hands back. */
export interface ScenarioResult {
  readonly rows: readonly ResultRow[];
  /** Markdown for the scenario's section of `REPORT.md` (the dispatcher adds heading, machine, command). */
  readonly report: string;
  /** A few lines for the terminal. */
  readonly summary: readonly string[];
  /** Extra files for `bench/results/` (e.g. `fanout-latency.svg`), linked from the report. */
  readonly files?: Readonly<Record<string, string>>;
  /** Versions of what the scenario started beyond Node, e.g. `{ redis: '7.0.15' }`. */
  readonly versions?: Readonly<Record<string, string>>;
}

/** Given to every scenario run. */
export interface ScenarioContext {
  /** `--quick`: a few seconds per step, for smoke runs; the numbers mean little. */
  readonly quick: boolean;
  /** Progress line to stderr. */
  log(line: string): void;
}

export type ScenarioOptions = NonNullable<ParseArgsConfig['options']>;

export interface Scenario {
  readonly name: string;
  /** One sentence for `--help` and the report. */
  readonly description: string;
  /**
   * The scenario's own flags, without defaults (a scenario applies its defaults itself, so that
   * `--quick` can pick other ones when a flag is not given). Flags of the same name in two scenarios
   * must have the same type; a value given once applies to both.
   */
  readonly options: ScenarioOptions;
  /**
   * Reads the scenario's flags (`args` holds only its own) and returns the run, without starting
   * anything: the dispatcher prepares every selected scenario first, so a bad flag (thrown as a
   * RangeError or parseArgs error) fails before any scenario has spent minutes running. The run must
   * stop by itself and clean up after itself on error.
   */
  prepare(args: string[], context: ScenarioContext): () => Promise<ScenarioResult>;
}
