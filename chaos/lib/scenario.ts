/** The shape of a chaos scenario module (chaos/scenarios/*.ts). */
import type { Row } from './outcome.ts';

export interface ScenarioOptions {
  /** Fewer clients and channels and shorter phases: the version `npm test` runs. */
  readonly quick: boolean;
  /** Progress lines (the runner prints them on stderr). */
  readonly log: (line: string) => void;
}

export interface Scenario {
  /** What `--scenario` selects, e.g. `kill-node`. */
  readonly name: string;
  /** One line on what the fault is. */
  readonly summary: string;
  /** Runs the scenario, cleaning up everything it started; one row per variant. */
  run(options: ScenarioOptions): Promise<Row[]>;
}

/** Resolves after `ms`. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
