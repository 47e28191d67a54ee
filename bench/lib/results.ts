/**
 * `bench/results/latest.json` and `bench/results/REPORT.md`. Each scenario's rows and report section
 * replace that scenario's previous ones; other scenarios' results are kept, so the suite's scenarios
 * can be run (and re-run) one at a time.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import type { ResultRow, Scenario, ScenarioResult } from './scenario.ts';

/** The suite's scenarios in report order; others follow alphabetically. */
export const SUITE_ORDER = ['fanout', 'channels', 'cross-node', 'connections', 'publish-api', 'recovery'];

/** Where and how one scenario ran. */
export interface RunRecord {
  /** ISO time the scenario finished. */
  readonly date: string;
  /** The command line, as typed. */
  readonly command: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
}

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  /** Other software the scenario ran, e.g. `{ redis: '7.0.15' }`. */
  readonly versions: Readonly<Record<string, string>>;
  /** 1, 5 and 15 minute load averages when the scenario started: a busy machine makes noisy numbers. */
  readonly loadAverage: readonly number[];
}

/** `latest.json`. */
export interface ResultsFile {
  readonly runs: Record<string, RunRecord>;
  readonly rows: ResultRow[];
}

/** Facts about this machine now; `versions` is filled in by the caller. */
export function describeMachine(): Omit<MachineInfo, 'versions'> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/** Merges one scenario's results into `dir`/latest.json and `dir`/REPORT.md. */
export function saveResults(dir: string, scenario: Scenario, result: ScenarioResult, run: RunRecord): void {
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, 'latest.json');
  const previous = readResults(jsonPath);
  const file: ResultsFile = {
    runs: sortByScenario({ ...previous.runs, [scenario.name]: run }),
    rows: [...previous.rows.filter((row) => row.scenario !== scenario.name), ...result.rows].sort(
      (a, b) => scenarioRank(a.scenario) - scenarioRank(b.scenario),
    ),
  };
  writeFileSync(jsonPath, `${JSON.stringify(file, null, 2)}\n`);
  for (const [name, content] of Object.entries(result.files ?? {})) {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`bad result file name ${name}`);
    writeFileSync(join(dir, name), content);
  }

  const reportPath = join(dir, 'REPORT.md');
  const sections = readSections(reportPath);
  sections.set(scenario.name, renderSection(scenario, result, run));
  const ordered = [...sections.keys()].sort(
    (a, b) => scenarioRank(a) - scenarioRank(b) || a.localeCompare(b),
  );
  writeFileSync(reportPath, `${REPORT_HEADER}\n${ordered.map((name) => sections.get(name)).join('\n')}`);
}

const REPORT_HEADER = `# Herald benchmark results

Written by \`npm run bench\` (\`bench/run.ts\`); the same figures are in \`latest.json\` as rows
\`{scenario, system, metric, value, unit, params}\`. Running a scenario replaces its section and rows
and keeps the others, so sections may come from different runs: each names its machine and command.
`;

function readResults(path: string): ResultsFile {
  if (!existsSync(path)) return { runs: {}, rows: [] };
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<ResultsFile>;
    if (Array.isArray(parsed.rows) && typeof parsed.runs === 'object' && parsed.runs !== null)
      return { runs: parsed.runs, rows: parsed.rows };
  } catch {
    // Handled below.
  }
  renameSync(path, `${path}.bak`);
  console.error(`${path} was not a results file; moved it to ${path}.bak and started a new one`);
  return { runs: {}, rows: [] };
}

const SECTION = /<!-- scenario: ([\w-]+) -->\n[\s\S]*?<!-- \/scenario: \1 -->\n/g;

function readSections(path: string): Map<string, string> {
  const sections = new Map<string, string>();
  if (!existsSync(path)) return sections;
  for (const match of readFileSync(path, 'utf8').matchAll(SECTION)) sections.set(match[1] ?? '', match[0]);
  return sections;
}

function renderSection(scenario: Scenario, result: ScenarioResult, run: RunRecord): string {
  const m = run.machine;
  const versions = Object.entries(m.versions)
    .map(([name, version]) => `, ${name} ${version}`)
    .join('');
  return [
    `<!-- scenario: ${scenario.name} -->`,
    `## ${scenario.name}`,
    '',
    scenario.description,
    '',
    `- **Run**: ${run.date}${run.quick ? ' — **quick smoke run (`--quick`): these numbers are not a measurement**' : ''}`,
    `- **Command**: \`${run.command}\``,
    `- **Machine**: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB memory, ${m.os}; Node ${m.node}${versions}`,
    `- **Load average at start**: ${m.loadAverage.join(', ')}`,
    '',
    result.report.trimEnd(),
    `<!-- /scenario: ${scenario.name} -->`,
    '',
  ].join('\n');
}

function scenarioRank(name: string): number {
  const rank = SUITE_ORDER.indexOf(name);
  return rank === -1 ? SUITE_ORDER.length : rank;
}

function sortByScenario<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => scenarioRank(a) - scenarioRank(b) || a.localeCompare(b)),
  );
}

/** A Markdown table with padded columns, readable as plain text too. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, 3, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${widths.map((width, i) => (cells[i] ?? '').padEnd(width)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
