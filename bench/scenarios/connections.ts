/**
 * `connections`: idle subscribed WebSocket connections on one node.
 *
 * (a) What a connection costs the server in memory: its resident set size with N connections open,
 * subscribed and idle, minus its RSS before the first connection, divided by N. Both readings are
 * taken after forced full garbage collections, repeated until RSS holds still (`lib/memory-probe.ts`
 * explains why: without them the figure moved by ±3 KiB per connection between runs). The V8 heap in
 * use after the last collection is reported beside it, which splits RSS into JS objects and the rest
 * (sockets' native state, allocator and heap overhead).
 *
 * (b) How fast the server takes a burst of new connections, each completing the system's whole
 * handshake: Herald upgrades, then `connect` with a JWT and `subscribe` (sent together, confirmed by
 * the subscribe reply); Socket.IO opens Engine.IO, connects the namespace and joins a room with an
 * acknowledged `subscribe` event; raw ws only upgrades (the channel is in the URL). The burst is the
 * same N connections, opened at once by several load processes with a bounded number in flight each.
 *
 * Each connection has a channel of its own (`conn-<i>`), as with per-user channels. The load
 * processes (`bench/load/connector-process.ts`) hold at most `--per-process` connections each, connect
 * from their own loopback source addresses, answer pings, and run at a lower CPU priority (nice 10)
 * so that, on a machine with few cores, the server under test gets the CPU it asks for first.
 */
import { setPriority } from 'node:os';
import { parseArgs } from 'node:util';
import type { ConnectRequest, ConnectResult, HoldState } from '../load/connector-process.ts';
import { intFlag, intListFlag, numberFlag, systemsFlag } from '../lib/args.ts';
import { LoadProcess } from '../lib/load-process.ts';
import { machineBusySeconds } from '../lib/machine-cpu.ts';
import { MemoryProbe, type MemoryReading } from '../lib/memory-probe.ts';
import { processCpuSeconds } from '../lib/processes.ts';
import { markdownTable } from '../lib/results.ts';
import type { ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario.ts';
import { median } from '../lib/steps.ts';
import { formatNumber } from '../lib/svg-chart.ts';
import { startSystem, SYSTEM_LABELS, type RunningSystem, type SystemName } from '../lib/systems.ts';

const OPTIONS = {
  connections: { type: 'string' },
  runs: { type: 'string' },
  systems: { type: 'string' },
  settle: { type: 'string' },
  'per-process': { type: 'string' },
  'open-concurrency': { type: 'string' },
} as const;

/** Herald's targets from the issue, shown beside its figures. */
const TARGET_KIB_PER_CONNECTION = 8;
const TARGET_CONNECTIONS_PER_S = 8_000;
/**
 * Source addresses per load process. Each has ~28k ephemeral ports, but binding to an address many
 * of whose ports are taken (by open connections, or TIME_WAIT ones of the last minute) makes every
 * connect slower (the kernel walks the taken ports: 10× slower at 5,000 taken here), so each process
 * uses several, from a block no other scenario uses, moved on for every measurement.
 */
const ADDRESSES_PER_PROCESS = 4;
/** The second octet of this scenario's source addresses: 127.41.<round>.<n>. */
const ADDRESS_BLOCK = 41;
let addressRound = Math.floor(Math.random() * 250);
/** The load processes' nice value: the server is served first when they compete for a core. */
const LOAD_NICE = 10;

interface Settings {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly systems: readonly SystemName[];
  /** Least seconds of forced collections before each memory reading. */
  readonly settleSeconds: number;
  readonly perProcess: number;
  readonly concurrency: number;
}

/** One system, one size, one run. */
interface Measurement {
  readonly before: MemoryReading;
  readonly with: MemoryReading;
  readonly kibPerConnection: number;
  readonly heapKibPerConnection: number;
  readonly connectionsPerS: number;
  /** CPU during the burst, % of one core: the server, every load process, everything else running. */
  readonly serverCpu: number;
  readonly loadCpu: number;
  readonly otherCpu: number;
}

export const connections: Scenario = {
  name: 'connections',
  description:
    'Idle subscribed WebSocket connections on one node (10,000 and 18,000; Herald on the memory engine, ' +
    'Socket.IO, raw `ws`): server RSS per connection after forced garbage collection, and new ' +
    'connections/s completing the full handshake (Herald: JWT connect + subscribe) in a burst.',
  options: OPTIONS,
  prepare(args, context) {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    const settings: Settings = {
      sizes: intListFlag(
        'connections',
        values.connections,
        context.quick ? [2000] : [10_000, 18_000],
        1,
        18_000,
      ),
      runs: intFlag('runs', values.runs, context.quick ? 1 : 3, 1, 20),
      systems: systemsFlag(values.systems, ['herald', 'socket.io', 'ws-frame']),
      settleSeconds: numberFlag('settle', values.settle, context.quick ? 1.5 : 8, 0, 60),
      perProcess: intFlag('per-process', values['per-process'], 4500, 100, 6000),
      concurrency: intFlag('open-concurrency', values['open-concurrency'], 100, 1, 1000),
    };
    return () => run(settings, context);
  },
};

async function run(settings: Settings, context: ScenarioContext): Promise<ScenarioResult> {
  const measured = new Map<string, Measurement[]>();
  const versions: Record<string, string> = {};
  for (const size of settings.sizes) {
    for (let run = 1; run <= settings.runs; run++) {
      for (const system of settings.systems) {
        context.log(`connections ${formatNumber(size)}: ${system}, run ${run} of ${settings.runs}`);
        const result = await measureOnce(system, size, settings, versions);
        context.log(
          `  ${result.kibPerConnection.toFixed(2)} KiB/connection (heap ${result.heapKibPerConnection.toFixed(2)}; ` +
            `RSS ${mib(result.before.rss)} → ${mib(result.with.rss)} MiB), ` +
            `${formatNumber(result.connectionsPerS)} connections/s, CPU server ${result.serverCpu}% ` +
            `load ${result.loadCpu}% other ${result.otherCpu}%`,
        );
        const key = `${size}/${system}`;
        measured.set(key, [...(measured.get(key) ?? []), result]);
      }
    }
  }
  return report(settings, measured, versions);
}

async function measureOnce(
  name: SystemName,
  size: number,
  settings: Settings,
  versions: Record<string, string>,
): Promise<Measurement> {
  const probe = new MemoryProbe();
  let system: RunningSystem | undefined;
  const processes = Array.from(
    { length: Math.ceil(size / settings.perProcess) },
    (_, i) => new LoadProcess(`connections-${i + 1}`, 'bench/load/connector-process.ts'),
  );
  try {
    system = await startSystem(name, { nodes: 1, broker: 'none', nodeFlags: probe.nodeFlags });
    Object.assign(versions, system.versions);
    const server = system;
    const pid = server.pid(0);
    if (pid === undefined) throw new Error(`${name} is not running`);
    const memory = () => probe.settle(pid, () => server.rss(0), settings.settleSeconds);
    // Every load process has loaded its code before the burst starts.
    await Promise.all(processes.map((process) => process.call('state', null, 30_000)));
    for (const process of processes) if (process.pid !== undefined) setPriority(process.pid, LOAD_NICE);
    const before = await memory();
    const burst = await openBurst(server, processes, size, settings);
    const loaded = await memory();
    await checkOpen(processes, size);
    return {
      before,
      with: loaded,
      kibPerConnection: (loaded.rss - before.rss) / size / 1024,
      heapKibPerConnection: (loaded.heapUsed - before.heapUsed) / size / 1024,
      ...burst,
    };
  } finally {
    // Closing with resets first leaves no TIME_WAIT sockets on the source addresses.
    await Promise.all(processes.map((process) => process.call('close', null, 10_000).catch(() => null)));
    await Promise.all(processes.map((process) => process.stop()));
    await system?.stop();
    probe.remove();
  }
}

/** Throws unless every connection is still open: the server must not have dropped idle clients. */
async function checkOpen(processes: readonly LoadProcess[], size: number): Promise<void> {
  const states = await Promise.all(processes.map((process) => process.call<HoldState>('state')));
  const open = states.reduce((sum, state) => sum + state.open, 0);
  const lost = states.reduce((sum, state) => sum + state.lost, 0);
  if (open !== size || lost > 0)
    throw new Error(
      `${open} of ${size} connections open after the settle period (${lost} closed by the server: ` +
        `${states.flatMap((state) => state.lostReasons)[0] ?? 'no reason'})`,
    );
}

/** Opens `size` connections from every load process at once; the rate and the CPU it took. */
async function openBurst(
  system: RunningSystem,
  processes: readonly LoadProcess[],
  size: number,
  settings: Settings,
): Promise<Pick<Measurement, 'connectionsPerS' | 'serverCpu' | 'loadCpu' | 'otherCpu'>> {
  const channels = Array.from({ length: size }, (_, i) => system.channel(`conn-${i}`));
  const share = Math.ceil(size / processes.length);
  const round = (addressRound = (addressRound + 1) % 250);
  const requests = processes.map((_, i): ConnectRequest => ({
    protocol: system.protocol,
    url: system.nodeUrls[0] ?? '',
    token: system.token,
    channels: channels.slice(i * share, (i + 1) * share),
    localAddresses: Array.from(
      { length: ADDRESSES_PER_PROCESS },
      (_, k) => `127.${ADDRESS_BLOCK}.${round}.${2 + i * ADDRESSES_PER_PROCESS + k}`,
    ),
    concurrency: settings.concurrency,
    timeoutMs: 30_000,
  }));
  const before = cpuSeconds(system, processes);
  const started = performance.now();
  const results = await Promise.all(
    processes.map((process, i) => process.call<ConnectResult>('open', requests[i], 300_000)),
  );
  const after = cpuSeconds(system, processes);
  const window = (performance.now() - started) / 1000;
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  if (failed > 0)
    throw new Error(
      `${failed} of ${size} connections failed: ${results.find((r) => r.firstError !== undefined)?.firstError}`,
    );
  // From the first attempt in any process to the last subscription confirmed in any process.
  const seconds =
    (Math.max(...results.map((r) => r.finishedAt)) - Math.min(...results.map((r) => r.startedAt))) / 1000;
  const percent = (key: keyof typeof before) => Math.round(((after[key] - before[key]) / window) * 100);
  return {
    connectionsPerS: Math.round(size / seconds),
    serverCpu: percent('server'),
    loadCpu: percent('load'),
    otherCpu: Math.max(0, percent('machine') - percent('server') - percent('load')),
  };
}

function cpuSeconds(
  system: RunningSystem,
  processes: readonly LoadProcess[],
): { server: number; load: number; machine: number } {
  return {
    server: system.cpu()['node-1'] ?? 0,
    load: processes.reduce((sum, process) => sum + (processCpuSeconds(process.pid) ?? 0), 0),
    machine: machineBusySeconds(),
  };
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** A system's figures at one size: medians of its runs. */
interface Figures {
  readonly kib: number;
  readonly heapKib: number;
  readonly before: number;
  readonly with: number;
  readonly rate: number;
  readonly serverCpu: number;
  readonly loadCpu: number;
  readonly otherCpu: number;
  readonly eachKib: readonly number[];
  readonly eachRate: readonly number[];
}

function figuresOf(runs: readonly Measurement[]): Figures {
  const at = (pick: (m: Measurement) => number) => median(runs.map(pick));
  return {
    kib: at((m) => m.kibPerConnection),
    heapKib: at((m) => m.heapKibPerConnection),
    before: at((m) => m.before.rss),
    with: at((m) => m.with.rss),
    rate: at((m) => m.connectionsPerS),
    serverCpu: at((m) => m.serverCpu),
    loadCpu: at((m) => m.loadCpu),
    otherCpu: at((m) => m.otherCpu),
    eachKib: runs.map((m) => m.kibPerConnection),
    eachRate: runs.map((m) => m.connectionsPerS),
  };
}

function report(
  settings: Settings,
  measured: ReadonlyMap<string, readonly Measurement[]>,
  versions: Record<string, string>,
): ScenarioResult {
  const rows: ResultRow[] = [];
  const sections: string[] = [];
  const summary: string[] = [];
  for (const size of settings.sizes) {
    const params = {
      connections: size,
      runs: settings.runs,
      settleSeconds: settings.settleSeconds,
      processes: Math.ceil(size / settings.perProcess),
      concurrencyPerProcess: settings.concurrency,
    };
    const figures = new Map<SystemName, Figures>();
    for (const system of settings.systems) {
      const figure = figuresOf(measured.get(`${size}/${system}`) ?? []);
      figures.set(system, figure);
      rows.push(...resultRows(system, figure, params));
    }
    sections.push(`### ${size.toLocaleString('en')} idle subscribed connections`, '', table(figures), '');
    summary.push(...summaryLines(size, figures));
  }
  sections.push(
    `KiB/connection: (server RSS with the connections open, subscribed and idle) − (RSS before the first ` +
      `connection), ÷ connections; each RSS is read after forced full garbage collections every 1.5 s for ` +
      `at least ${settings.settleSeconds} s and until three readings agree within 0.5%. Heap: the same for ` +
      `the V8 heap in use after the last collection; the rest of RSS is sockets' native state and allocator ` +
      `and heap overhead. New connections/s: the connections ÷ the time from the first attempt to the last ` +
      `handshake completed, with up to ${settings.perProcess.toLocaleString('en')} connections per load ` +
      `process and ${settings.concurrency} in flight in each; Herald's handshake is upgrade + \`connect\` ` +
      `with a JWT + \`subscribe\`, Socket.IO's Engine.IO open + namespace connect + acknowledged ` +
      `\`subscribe\`, raw ws's the upgrade only. CPU during that burst, % of one core: the server, the load ` +
      `processes, and everything else on the machine (high values there mean a noisy figure). Each ` +
      `connection has its own channel. Figures are medians of ${settings.runs} run(s), each on a fresh ` +
      `server. Herald's targets: ≤ ${TARGET_KIB_PER_CONNECTION} KiB per connection, ` +
      `≥ ${formatNumber(TARGET_CONNECTIONS_PER_S)} new connections/s.`,
  );
  return { rows, report: sections.join('\n'), summary, versions };
}

function resultRows(
  system: SystemName,
  figure: Figures,
  params: Readonly<Record<string, string | number | boolean>>,
): ResultRow[] {
  const row = (metric: string, value: number, unit: string): ResultRow => ({
    ...{ scenario: 'connections', system, metric, value, unit, params },
  });
  return [
    row('rss_per_connection', round(figure.kib, 2), 'KiB'),
    row('heap_per_connection', round(figure.heapKib, 2), 'KiB'),
    row('rss_before', round(figure.before / 2 ** 20, 1), 'MiB'),
    row('rss_with_connections', round(figure.with / 2 ** 20, 1), 'MiB'),
    row('new_connections_per_s', Math.round(figure.rate), '1/s'),
    row('server_cpu_during_open', Math.round(figure.serverCpu), '%'),
    row('load_cpu_during_open', Math.round(figure.loadCpu), '%'),
    row('other_cpu_during_open', Math.round(figure.otherCpu), '%'),
  ];
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

function ratio(herald: number | undefined, other: number): string {
  return herald === undefined || !(other > 0) ? '—' : `${(herald / other).toFixed(2)}×`;
}

function table(figures: ReadonlyMap<SystemName, Figures>): string {
  const herald = figures.get('herald');
  const lines = [...figures].map(([system, figure]) => {
    const own = system === 'herald';
    return [
      SYSTEM_LABELS[system],
      figure.kib.toFixed(2),
      own ? '—' : ratio(herald?.kib, figure.kib),
      figure.heapKib.toFixed(2),
      `${mib(figure.before)} → ${mib(figure.with)}`,
      formatNumber(figure.rate),
      own ? '—' : ratio(herald?.rate, figure.rate),
      `${Math.round(figure.serverCpu)}% / ${Math.round(figure.loadCpu)}% / ${Math.round(figure.otherCpu)}%`,
      figure.eachKib.map((kib) => kib.toFixed(2)).join(', '),
      figure.eachRate.map(formatNumber).join(', '),
    ];
  });
  return markdownTable(
    [
      'system',
      'KiB/connection',
      'Herald ÷ system',
      'heap KiB',
      'RSS MiB before → with',
      'new connections/s',
      'Herald ÷ system',
      'CPU server / load / other',
      'KiB of each run',
      'connections/s of each run',
    ],
    lines,
  );
}

function summaryLines(size: number, figures: ReadonlyMap<SystemName, Figures>): string[] {
  const herald = figures.get('herald');
  const peers = [...figures].filter(([system]) => system !== 'herald');
  if (herald === undefined)
    return peers.map(
      ([system, figure]) =>
        `${formatNumber(size)} connections, ${SYSTEM_LABELS[system]}: ${figure.kib.toFixed(2)} KiB/connection, ` +
        `${formatNumber(figure.rate)} connections/s`,
    );
  const compare = (pick: (figure: Figures) => number) =>
    peers
      .map(([system, figure]) => `${ratio(pick(herald), pick(figure))} ${SYSTEM_LABELS[system]}`)
      .join(', ');
  return [
    `${formatNumber(size)} connections: Herald ${herald.kib.toFixed(2)} KiB/connection ` +
      `(target ≤ ${TARGET_KIB_PER_CONNECTION}) = ${compare((f) => f.kib)}`,
    `${formatNumber(size)} connections: Herald ${formatNumber(herald.rate)} new connections/s ` +
      `(target ≥ ${formatNumber(TARGET_CONNECTIONS_PER_S)}) = ${compare((f) => f.rate)}`,
  ];
}
