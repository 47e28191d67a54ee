/**
 * `recovery`: 1,000 clients drop off at once, miss 100 publications each, and reconnect at once; how
 * long until every one of them has recovered exactly what it missed. Herald on the memory engine and
 * on Redis (where recovery reads the history from Redis), and Socket.IO with connection state recovery.
 * Raw ws has no recovery, so it is not in this comparison.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type {
  ReconnectReport,
  RecoveryOpenRequest,
  RecoveryOpenResult,
  RecoveryStatus,
} from '../load/recovery-process.ts';
import { intFlag, intListFlag, systemsFlag } from '../lib/args.ts';
import { LatencyHistogram } from '../lib/histogram.ts';
import { LoadProcess } from '../lib/load-process.ts';
import { nowMs } from '../lib/messages.ts';
import { sleep } from '../lib/processes.ts';
import { markdownTable } from '../lib/results.ts';
import type { ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario.ts';
import { median } from '../lib/steps.ts';
import { formatNumber } from '../lib/svg-chart.ts';
import type { Broker } from '../lib/systems.ts';
import { startServer, type PublishItem, type RecoveryServer, type Target } from './recovery-servers.ts';

const OPTIONS = {
  runs: { type: 'string' },
  systems: { type: 'string' },
  brokers: { type: 'string' },
  clients: { type: 'string' },
  channels: { type: 'string' },
  missed: { type: 'string' },
  payload: { type: 'string' },
} as const;

/** Herald's target (issue 4): 1,000 clients recovered within this. */
const TARGET_MS = 2_000;
/** Load processes holding the clients. */
const PROCESSES = 2;
/** Publications each client receives before dropping, so that it knows its position. */
const WARMUP = 1;

interface Settings {
  readonly runs: number;
  readonly targets: readonly Target[];
  readonly clients: number;
  readonly channelCounts: readonly number[];
  readonly missed: number;
  readonly payloadBytes: number;
  /** How long one client may take to recover before it counts as failed. */
  readonly timeoutMs: number;
  readonly quick: boolean;
}

/** One run: fresh server and load processes. */
interface Run {
  /** Every client recovered: ms until the last one had; NaN when some failed. */
  readonly allMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
  readonly failureReasons: readonly string[];
  /** Server CPU (with Redis) while the clients recovered, ms. */
  readonly cpuMs: number;
  /** Connections the kernel dropped meanwhile because a listen queue was full (machine-wide; NaN: unknown). */
  readonly overflows: number;
}

export const recovery: Scenario = {
  name: 'recovery',
  description:
    '1,000 clients drop their connections at once, miss 100 publications each (~100-byte JSON, published ' +
    'over HTTP while they are away), then reconnect at once and recover them: Herald resubscribing with ' +
    '`since` (memory engine, and Redis holding the history), Socket.IO 4.8 with connection state ' +
    'recovery (one node, in-memory adapter). Time from the reconnect until every client has every ' +
    'missed publication, checked for gaps and duplicates.',
  options: OPTIONS,
  prepare(args, context) {
    const settings = readSettings(args, context.quick);
    return () => runRecovery(settings, context);
  },
};

function readSettings(args: string[], quick: boolean): Settings {
  const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  const systems = systemsFlag(values.systems, ['herald', 'socket.io']).filter(
    (system) => system === 'herald' || system === 'socket.io',
  );
  const brokers = (values.brokers ?? 'none,redis').split(',').map((broker) => broker.trim());
  for (const broker of brokers)
    if (broker !== 'none' && broker !== 'redis' && broker !== 'redis-cluster')
      throw new RangeError(`--brokers takes none, redis and redis-cluster; got ${JSON.stringify(broker)}`);
  // Socket.IO recovers from its in-memory adapter only: with a broker it has nothing to compare.
  const targets = systems.flatMap((system): Target[] =>
    system === 'herald'
      ? brokers.map((broker) => ({ system, broker: broker as Broker }))
      : brokers.includes('none')
        ? [{ system: 'socket.io', broker: 'none' }]
        : [],
  );
  return {
    runs: intFlag('runs', values.runs, quick ? 1 : 3, 1, 20),
    targets,
    clients: intFlag('clients', values.clients, 1000, 1, 18_000),
    channelCounts: intListFlag('channels', values.channels, quick ? [1] : [1, 10], 1, 1000),
    // The `bench` namespace keeps 100 publications (lib/systems.ts): more could not be recovered.
    missed: intFlag('missed', values.missed, 100, 1, 100),
    payloadBytes: intFlag('payload', values.payload, 100, 40, 65_536),
    timeoutMs: quick ? 10_000 : 30_000,
    quick,
  };
}

async function runRecovery(settings: Settings, context: ScenarioContext): Promise<ScenarioResult> {
  // A suite-wide `--systems ws-frame` (raw ws has no recovery) leaves nothing here: skip, do not fail.
  if (settings.targets.length === 0) {
    const why = 'nothing to run: only Herald and Socket.IO recover, and --systems/--brokers selected neither';
    return { rows: [], report: `Skipped: ${why}.`, summary: [`skipped (${why})`] };
  }
  const runs = new Map<string, Run[]>();
  const versions: Record<string, string> = {};
  for (const channels of settings.channelCounts) {
    for (let run = 1; run <= settings.runs; run++) {
      for (const target of settings.targets) {
        context.log(`recovery, ${channels} channel(s): ${label(target)}, run ${run} of ${settings.runs}`);
        const result = await runOnce(settings, target, channels, context, versions);
        context.log(
          `  all recovered in ${msText(result.allMs)} (per client p50 ${msText(result.p50)}, ` +
            `p99 ${msText(result.p99)}), server CPU ${msText(result.cpuMs)}, ${result.failures} failed` +
            (result.failures > 0 ? ` (${result.failureReasons.join('; ')})` : ''),
        );
        const key = `${channels}/${label(target)}`;
        runs.set(key, [...(runs.get(key) ?? []), result]);
      }
    }
  }
  return report(settings, runs, versions);
}

async function runOnce(
  settings: Settings,
  target: Target,
  channelCount: number,
  context: ScenarioContext,
  versions: Record<string, string>,
): Promise<Run> {
  const processes = Array.from(
    { length: PROCESSES },
    (_, i) => new LoadProcess(`recovery-${i + 1}`, 'bench/load/recovery-process.ts'),
  );
  let server: RecoveryServer | undefined;
  try {
    server = await startServer(target);
    Object.assign(versions, server.versions);
    const channels = Array.from({ length: channelCount }, (_, i) => server?.channel(`recovery-${i}`) ?? '');
    await openClients(server, processes, channels, settings.clients);
    await server.publish(publications(channels, 1, WARMUP, settings.payloadBytes));
    await waitUntilReady(processes, settings.clients);
    await Promise.all(processes.map((process) => process.call<number>('drop')));
    // Let the server see every connection go before the publications the clients will miss.
    await sleep(300);
    await server.publish(publications(channels, WARMUP + 1, settings.missed, settings.payloadBytes));
    const cpuBefore = server.cpuSeconds();
    const overflowsBefore = listenOverflows();
    const startAt = nowMs() + 100;
    const reports = await Promise.all(
      processes.map((process) =>
        process.call<ReconnectReport>(
          'reconnect',
          { startAt, missed: settings.missed, timeoutMs: settings.timeoutMs },
          settings.timeoutMs + 30_000,
        ),
      ),
    );
    // The load processes share the cores with the server: say so when they were slow themselves.
    const late = Math.max(...reports.map((r) => r.lateStartMs));
    const dial = Math.max(...reports.map((r) => r.dialMs));
    if (late > 50 || dial > 200)
      context.log(`  (load: started ${msText(late)} late; opening the sockets took ${msText(dial)})`);
    return summarize(reports, (server.cpuSeconds() - cpuBefore) * 1000, listenOverflows() - overflowsBefore);
  } finally {
    await Promise.all(processes.map((process) => process.stop()));
    await server?.stop();
  }
}

/** Opens the clients, channel `i % channels` for client `i`, spread over the load processes. */
async function openClients(
  server: RecoveryServer,
  processes: readonly LoadProcess[],
  channels: readonly string[],
  clients: number,
): Promise<void> {
  const all = Array.from({ length: clients }, (_, i) => channels[i % channels.length] ?? '');
  const results = await Promise.all(
    processes.map((process, i) => {
      const request: RecoveryOpenRequest = {
        protocol: server.protocol,
        url: server.url,
        token: server.token,
        channels: all.filter((_, index) => index % processes.length === i),
        // The fleet's addresses (lib/fleet.ts): 127.0.0.2 and up, two per process.
        localAddresses: [`127.0.0.${2 + i * 2}`, `127.0.0.${3 + i * 2}`],
        concurrency: 200,
      };
      return process.call<RecoveryOpenResult>('open', request, 120_000);
    }),
  );
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  if (failed > 0)
    throw new Error(
      `${failed} of ${clients} clients could not connect: ${results.find((r) => r.firstError)?.firstError}`,
    );
}

/** Publications `first`…`first + count - 1` of every channel, each numbered `n` in its channel. */
function publications(
  channels: readonly string[],
  first: number,
  count: number,
  payloadBytes: number,
): PublishItem[] {
  const items: PublishItem[] = [];
  for (let n = first; n < first + count; n++) {
    const head = `{"n":${n},"p":"`;
    const data = `${head}${'x'.repeat(Math.max(0, payloadBytes - head.length - 2))}"}`;
    for (const channel of channels) items.push({ channel, data });
  }
  return items;
}

async function waitUntilReady(processes: readonly LoadProcess[], clients: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  let ready = 0;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(
      processes.map((process) => process.call<RecoveryStatus>('status', WARMUP)),
    );
    ready = statuses.reduce((sum, status) => sum + status.ready, 0);
    const lost = statuses.reduce((sum, status) => sum + status.lost, 0);
    if (lost > 0) throw new Error(`${lost} clients lost their connection before the test`);
    if (ready === clients) return;
    await sleep(50);
  }
  throw new Error(`only ${ready} of ${clients} clients received the first publication within 15 s`);
}

/**
 * The kernel's count of connections dropped because a listen (accept) queue was full, machine-wide
 * (`TcpExt: ListenOverflows`); NaN where /proc is missing. A dropped handshake is retried about a
 * second later, which shows as a step in the recovery times.
 */
function listenOverflows(): number {
  try {
    const [names, values] = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const index = names?.split(' ').indexOf('ListenOverflows') ?? -1;
    return index === -1 ? Number.NaN : Number(values?.split(' ')[index]);
  } catch {
    return Number.NaN;
  }
}

function summarize(reports: readonly ReconnectReport[], cpuMs: number, overflows: number): Run {
  const times = new LatencyHistogram();
  for (const report of reports) times.merge(report.times);
  const failures = reports.reduce((sum, report) => sum + report.failed, 0);
  const percentiles = times.percentiles();
  return {
    allMs: failures > 0 ? Number.NaN : Math.max(...reports.map((report) => report.lastMs)),
    p50: percentiles.p50,
    p99: percentiles.p99,
    failures,
    failureReasons: [...new Set(reports.flatMap((report) => report.failureReasons))].slice(0, 3),
    cpuMs,
    overflows,
  };
}

function msText(ms: number): string {
  return Number.isFinite(ms) ? `${Math.round(ms)} ms` : '—';
}

function label(target: Target): string {
  return target.system === 'socket.io'
    ? 'socket.io'
    : `herald-${target.broker === 'none' ? 'memory' : target.broker}`;
}

/** The medians of a target's runs. */
interface Figures {
  readonly allMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
  readonly cpuMs: number;
  readonly overflows: number;
  readonly failures: number;
  readonly failureReasons: readonly string[];
  readonly each: readonly number[];
}

function figuresOf(runs: readonly Run[], clients: number, missed: number): Figures {
  return {
    allMs: median(runs.map((run) => run.allMs)),
    p50: median(runs.map((run) => run.p50)),
    p99: median(runs.map((run) => run.p99)),
    perSecond: median(runs.map((run) => (clients * missed) / (run.allMs / 1000))),
    cpuMs: median(runs.map((run) => run.cpuMs)),
    overflows: median(runs.map((run) => run.overflows)),
    failures: runs.reduce((sum, run) => sum + run.failures, 0),
    failureReasons: [...new Set(runs.flatMap((run) => run.failureReasons))].slice(0, 3),
    each: runs.map((run) => run.allMs),
  };
}

function report(
  settings: Settings,
  runs: ReadonlyMap<string, readonly Run[]>,
  versions: Record<string, string>,
): ScenarioResult {
  const rows: ResultRow[] = [];
  const sections: string[] = [];
  const summary: string[] = [];
  for (const channels of settings.channelCounts) {
    const figures = new Map<Target, Figures>();
    for (const target of settings.targets)
      figures.set(
        target,
        figuresOf(runs.get(`${channels}/${label(target)}`) ?? [], settings.clients, settings.missed),
      );
    const params = {
      clients: settings.clients,
      channels,
      missed: settings.missed,
      payloadBytes: settings.payloadBytes,
      runs: settings.runs,
      ...(settings.quick ? { quick: true } : {}),
    };
    for (const [target, figure] of figures) rows.push(...resultRows(target, figure, params));
    const title = caseTitle(settings, channels);
    sections.push(`### ${title}`, '', recoveryTable(figures), '', targetLine(figures), '');
    summary.push(...summaryLines(title, figures));
  }
  sections.push(notes(settings));
  return { rows, report: sections.join('\n'), summary, versions };
}

function caseTitle(settings: Settings, channels: number): string {
  const spread =
    channels === 1 ? 'one channel' : `${channels} channels (${Math.round(settings.clients / channels)} each)`;
  return `${settings.clients.toLocaleString('en')} clients on ${spread}, ${settings.missed} missed each`;
}

/** Whether Herald on the memory engine met its target. */
function targetLine(figures: ReadonlyMap<Target, Figures>): string {
  const herald = [...figures].find(([target]) => target.system === 'herald' && target.broker === 'none')?.[1];
  if (herald === undefined) return '';
  const verdict = herald.allMs <= TARGET_MS ? 'met' : '**missed**';
  return `Herald's target, every client recovered within ${TARGET_MS / 1000} s (memory engine): ${verdict} (${msText(herald.allMs)}).`;
}

function resultRows(
  target: Target,
  figure: Figures,
  params: Readonly<Record<string, string | number | boolean>>,
): ResultRow[] {
  const row = (metric: string, value: number, unit: string): ResultRow => ({
    ...{ scenario: 'recovery', system: target.system, metric, value, unit },
    params: { ...params, broker: target.broker },
  });
  const measured = [
    row('all_recovered_ms', Math.round(figure.allMs), 'ms'),
    row('client_recovery_p50', Math.round(figure.p50), 'ms'),
    row('client_recovery_p99', Math.round(figure.p99), 'ms'),
    row('recovered_publications_per_s', Math.round(figure.perSecond), '1/s'),
    row('server_cpu_ms', Math.round(figure.cpuMs), 'ms'),
    row('listen_overflows', Math.round(figure.overflows), 'count'),
  ].filter((r) => Number.isFinite(r.value));
  return [...measured, row('failures', figure.failures, 'count')];
}

function recoveryTable(figures: ReadonlyMap<Target, Figures>): string {
  const herald = [...figures].find(([target]) => target.system === 'herald' && target.broker === 'none')?.[1];
  const ms = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en') : '—');
  const table = [...figures].map(([target, figure]) => [
    target.system === 'herald' ? 'Herald' : 'Socket.IO',
    target.system === 'socket.io' ? 'in-memory adapter' : target.broker === 'none' ? 'memory' : target.broker,
    ms(figure.allMs),
    `${ms(figure.p50)} / ${ms(figure.p99)}`,
    Number.isFinite(figure.perSecond) ? formatNumber(Math.round(figure.perSecond)) : '—',
    target.system === 'socket.io' ? ratio(herald?.perSecond, figure.perSecond) : '—',
    ms(figure.cpuMs),
    ms(figure.overflows),
    `${figure.failures}${figure.failures > 0 ? ` (${figure.failureReasons.join('; ')})` : ''}`,
    figure.each.map(ms).join(', '),
  ]);
  return markdownTable(
    [
      'system',
      'history in',
      'all recovered, ms',
      'per client p50 / p99, ms',
      'publications recovered/s',
      'Herald (memory) ÷ system',
      'server CPU, ms',
      'handshakes dropped',
      'failed clients',
      'all recovered, each run',
    ],
    table,
  );
}

function ratio(herald: number | undefined, other: number): string {
  return herald === undefined || !Number.isFinite(herald) || !(other > 0)
    ? '—'
    : `${(herald / other).toFixed(2)}×`;
}

function summaryLines(title: string, figures: ReadonlyMap<Target, Figures>): string[] {
  return [...figures].map(([target, figure]) => {
    const met =
      target.system === 'herald'
        ? figure.allMs <= TARGET_MS
          ? ' (target ≤ 2 s: met)'
          : ' (target ≤ 2 s: MISSED)'
        : '';
    return `${title}, ${label(target)}: all recovered in ${msText(figure.allMs)}${met}, per client p99 ${msText(figure.p99)}, ${figure.failures} failed`;
  });
}

function notes(settings: Settings): string {
  return [
    `Each client first receives ${WARMUP} publication, so it knows its position; then every connection is ` +
      `dropped (TCP close, no goodbye), ${settings.missed} publications per channel are published over HTTP ` +
      `(Herald: \`POST /api/publish/batch\`), and ${PROCESSES} load processes reconnect all clients at one ` +
      `agreed moment, every connection opened at once. Nothing is published during the reconnect, so ` +
      `everything a client receives is recovered. **All recovered** is the time from that moment until the ` +
      `last client had all ${settings.missed} missed publications (for Herald: the subscribe reply, which ` +
      `carries them; for Socket.IO: the connect reply and the missed events sent before it); per-client ` +
      `times are from the same moment, so they include connecting. A client counts as failed unless the ` +
      `server said it recovered (Herald \`recovered: true\`; Socket.IO the same session id in the connect ` +
      `reply) and it got exactly the missed publications, in order, with no gap or duplicate (Herald by ` +
      `offset, Socket.IO by a sequence number in the data). Publications recovered/s is clients × missed ÷ ` +
      `all-recovered time. Server CPU is the server process's (and Redis's) CPU time from the reconnect ` +
      `until every client had recovered. Medians of ${settings.runs} run(s), each on fresh processes. ` +
      `Herald's clients present a JWT at every connect (verified each time); Socket.IO's connect without ` +
      `authentication, as in its peer server. Both servers listen with a backlog of 4,096 (Node's default is 511): ` +
      `when more handshakes wait than the backlog, the kernel drops some, and those clients connect about a ` +
      `second later (TCP retransmission). **Handshakes dropped** counts them (the kernel's \`ListenOverflows\`, ` +
      `machine-wide, median of the runs); a run with drops shows a step of ~1 s in its slowest clients.`,
    '',
    'Raw `ws` has no recovery and is not in this comparison. Socket.IO runs with `connectionStateRecovery` ' +
      '(its defaults: sessions and events kept 2 minutes) on one node: `@socket.io/redis-adapter`, which ' +
      'the cross-node scenario uses, does not implement recovery (only the Redis Streams adapter does), so ' +
      'the Redis rows are Herald only.',
  ].join('\n');
}
