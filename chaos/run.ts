/**
 * Runs the chaos scenarios (chaos/scenarios/) and prints one table row each: publications acknowledged,
 * delivered, recovered, told not recoverable, lost, duplicated, out of order, time to recover. Exits 1
 * when anything was lost, duplicated or out of order. A full run writes chaos/results/latest.md.
 *
 *   npm run chaos [-- --scenario kill-node,rolling-restart] [--quick]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { exitOnSignals } from '../bench/lib/processes.ts';
import { failed, table, type Row } from './lib/outcome.ts';
import { SCENARIOS } from './scenarios/index.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const log = (line: string) => console.error(`[chaos] ${line}`);
exitOnSignals(log);

const wanted = values.scenario?.split(',').map((name) => name.trim()) ?? SCENARIOS.map((s) => s.name);
const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const rows: Row[] = [];
const startedAt = Date.now();
const loadAtStart = loadavg()[0] ?? 0;
for (const scenario of SCENARIOS.filter((s) => wanted.includes(s.name))) {
  log(`${scenario.name}: ${scenario.summary}`);
  const scenarioRows = await scenario.run({ quick: values.quick, log });
  for (const row of scenarioRows) {
    if (failed(row)) log(`${row.scenario} FAILED:\n${row.problems.join('\n')}\n${row.details}`);
    rows.push(row);
  }
}
const result = table(rows);
console.log(result);

const command = `npm run chaos --${values.scenario === undefined ? '' : ` --scenario ${values.scenario}`}${
  values.quick ? ' --quick' : ''
}`.replace(/ --$/, '');
if (!values.quick && values.scenario === undefined) {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const machine = `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;
  const report = [
    '# Chaos scenarios: latest full run',
    '',
    `Command: \`${command}\` (${new Date(startedAt).toISOString().slice(0, 10)}, ${Math.round(
      (Date.now() - startedAt) / 1000,
    )} s).`,
    '',
    `Machine: ${machine}; load average ${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end.`,
    '',
    'What each scenario does and how the figures are counted: docs/reliability.md, "Chaos scenarios".',
    '',
    result,
    '',
  ].join('\n');
  writeFileSync(new URL('./results/latest.md', import.meta.url), report);
  log('wrote chaos/results/latest.md');
}
process.exit(rows.some(failed) ? 1 : 0);
