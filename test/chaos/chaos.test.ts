/**
 * The short version of `npm run chaos` (chaos/run.ts): a node killed with `kill -9`, and a rolling
 * restart with the graceful drain, each with real `herald serve` processes behind a TCP balancer and a
 * real Redis, in quick mode. Nothing acknowledged may be lost, repeated or reordered.
 */
import { describe, expect, it } from 'vitest';
import type { Row } from '../../chaos/lib/outcome.ts';
import type { Scenario } from '../../chaos/lib/scenario.ts';
import { killNode } from '../../chaos/scenarios/kill-node.ts';
import { rollingRestart } from '../../chaos/scenarios/rolling-restart.ts';

const log = (line: string) => {
  if (process.env['VERBOSE']) console.log(line);
};

async function runQuick(scenario: Scenario): Promise<Row> {
  const rows = await scenario.run({ quick: true, log });
  expect(rows).toHaveLength(1);
  return rows[0] as Row;
}

describe('chaos (quick)', () => {
  it.each([killNode, rollingRestart])(
    '$name: nothing lost, duplicated or out of order',
    async (scenario) => {
      const row = await runQuick(scenario);
      expect(row.problems, row.details).toEqual([]);
      expect(
        { lost: row.lost, duplicated: row.duplicated, outOfOrder: row.outOfOrder, told: row.told },
        row.details,
      ).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0, told: 0 });
      expect(row.acknowledged).toBeGreaterThan(0);
      expect(row.delivered).toBeGreaterThan(row.acknowledged);
    },
    60_000,
  );
});
