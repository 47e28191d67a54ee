/**
 * `npm run bench`: runs benchmark scenarios and merges their results into bench/results/latest.json
 * and bench/results/REPORT.md.
 *
 *   npm run bench                                  every scenario
 *   npm run bench -- --scenario cross-node         one (repeat the flag, or use commas, for more)
 *   npm run bench -- --quick                       a few seconds per step: a smoke run
 *   npm run bench -- --scenario cross-node --rates 500,2000 --subscribers 100 --seconds 10
 *
 * Scenario flags go on the same command line; a flag several scenarios share (`--seconds`,
 * `--subscribers`) applies to each of them. `--help` lists them.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exitOnSignals, REPO_ROOT } from './lib/processes.ts';
import { describeMachine, saveResults } from './lib/results.ts';
import type { Scenario, ScenarioContext, ScenarioOptions } from './lib/scenario.ts';
import { SCENARIOS } from './scenarios.ts';

const OWN_OPTIONS = {
  scenario: { type: 'string', multiple: true },
  quick: { type: 'boolean' },
  'no-write': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A last resort should a step hang despite its own limits: the whole run ends after this. */
const RUN_LIMIT_MS = { quick: 10 * 60_000, full: 3 * 3600_000 };

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function usage(): string {
  const flags = SCENARIOS.map(
    (s) =>
      `  ${s.name}: ${Object.keys(s.options)
        .map((name) => `--${name}`)
        .join(' ')}\n    ${s.description}`,
  );
  return `usage: npm run bench -- [--scenario NAME[,NAME]] [--quick] [--no-write] [scenario flags]

  --scenario   ${SCENARIOS.map((s) => s.name).join(', ')} (default: all, in this order)
  --quick      a few seconds per step, for smoke runs
  --no-write   print the results without touching bench/results/

Scenario flags (see each scenario's file for defaults):
${flags.join('\n')}
`;
}

function parseCommandLine(argv: string[]) {
  const options: ScenarioOptions = { ...OWN_OPTIONS };
  for (const scenario of SCENARIOS) {
    for (const [name, option] of Object.entries(scenario.options)) {
      const known = options[name];
      if (known !== undefined && known.type !== option.type)
        throw new Error(`--${name} means different things to two scenarios (${scenario.name})`);
      options[name] = { type: option.type, ...(option.multiple === true ? { multiple: true } : {}) };
    }
  }
  const { values, tokens } = parseArgs({
    args: argv,
    options,
    strict: true,
    allowPositionals: false,
    tokens: true,
  });
  const names = ((values['scenario'] as string[] | undefined) ?? ['all']).flatMap((s) => s.split(','));
  const selected = names.includes('all') ? [...SCENARIOS] : names.map(findScenario);
  /** The command-line flags meant for `scenario`, in its own syntax. */
  const argsFor = (scenario: Scenario) =>
    tokens.flatMap((token) =>
      token.kind === 'option' && Object.hasOwn(scenario.options, token.name)
        ? [`--${token.name}`, ...(token.value === undefined ? [] : [token.value])]
        : [],
    );
  return {
    selected: [...new Set(selected)],
    argsFor,
    quick: values['quick'] === true,
    write: values['no-write'] !== true,
    help: values['help'] === true,
  };
}

function findScenario(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined)
    throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return scenario;
}

/** The command as typed, for the report. */
function commandLine(argv: readonly string[]): string {
  const quoted = argv.map((arg) => (/^[\w.,:=/+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`));
  const base =
    process.env['npm_lifecycle_event'] === 'bench' ? 'npm run bench' : 'node bin/run-ts.js bench/run.ts';
  return quoted.length === 0 ? base : `${base}${base.startsWith('npm') ? ' --' : ''} ${quoted.join(' ')}`;
}

async function main(): Promise<number> {
  exitOnSignals(log);
  const argv = process.argv.slice(2);
  let command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage()}`);
    return 2;
  }
  if (command.help) {
    console.log(usage());
    return 0;
  }
  setTimeout(
    () => {
      log('the run exceeded its time limit; stopping');
      process.exit(1);
    },
    command.quick ? RUN_LIMIT_MS.quick : RUN_LIMIT_MS.full,
  ).unref();
  const context: ScenarioContext = { quick: command.quick, log };
  let runs;
  try {
    runs = command.selected.map((scenario) => ({
      scenario,
      run: scenario.prepare(command.argsFor(scenario), context),
    }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)} (--help lists the flags)`);
    return 2;
  }
  const summaries: string[] = [];
  let failed = 0;
  let written = 0;
  for (const { scenario, run: runScenario } of runs) {
    const machine = describeMachine();
    try {
      const result = await runScenario();
      summaries.push(`${scenario.name}:`, ...result.summary.map((line) => `  ${line}`));
      if (!command.write) continue;
      const run = {
        ...{ date: new Date().toISOString(), command: commandLine(argv), quick: command.quick },
        machine: { ...machine, versions: { ...result.versions } },
      };
      saveResults(join(REPO_ROOT, 'bench', 'results'), scenario, result, run);
      written += 1;
    } catch (error) {
      failed += 1;
      log(
        `${scenario.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      summaries.push(`${scenario.name}: FAILED (see above)`);
    }
  }
  const m = describeMachine();
  console.log(
    `\n${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, load average ${m.loadAverage.join(' ')}`,
  );
  console.log(summaries.join('\n'));
  if (written > 0) console.log('\nresults: bench/results/latest.json, bench/results/REPORT.md');
  return failed === 0 ? 0 : 1;
}

// Exit explicitly: kept-alive HTTP connections and timers must not hold a finished run open.
process.exit(await main());
