/**
 * `publish-api`: HTTP publish requests per second into one node, closed loop (autocannon with a fixed
 * number of kept-alive connections, no pipelining, in its own process: `bench/load/http-load-process.ts`).
 *
 *   fastify             a bare Fastify route that parses the same JSON body and answers a fixed small
 *                       JSON (`bench/peers/fastify-server.ts`): the HTTP ceiling of Node + Fastify here
 *   herald-memory       `POST /api/publish` on the memory engine, into a channel keeping history
 *   herald-redis        the same on the Redis engine (a local redis-server the run starts)
 *   herald-redis-batch  `POST /api/publish/batch` on Redis, `--batch-size` publications per request
 *                       spread over `--batch-channels` channels; reported in publications/s
 *
 * Herald's publications go to channels of the `bench` namespace, which keeps a history (100 for 10
 * minutes), with the API key in the `authorization` header. Each request's `data` is ~`--payload`
 * bytes of JSON; single publishes go to `--publish-channels` channels in turn. Before the load, one
 * request is sent by hand: an endpoint that answers 404 (not built yet) is reported as missing and
 * skipped; any other failure fails the run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { HttpLoadReport, HttpLoadRun } from '../load/http-load-process.ts';
import { intFlag, numberFlag } from '../lib/args.ts';
import { LatencyHistogram, type Percentiles } from '../lib/histogram.ts';
import { LoadProcess } from '../lib/load-process.ts';
import { machineBusySeconds } from '../lib/machine-cpu.ts';
import { HeraldProcess, processCpuSeconds, REPO_ROOT } from '../lib/processes.ts';
import { markdownTable } from '../lib/results.ts';
import type { ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario.ts';
import { median } from '../lib/steps.ts';
import { formatNumber } from '../lib/svg-chart.ts';
import { startSystem } from '../lib/systems.ts';
import { freePort, releasePort } from '../../test/helpers/free-port.ts';

const OPTIONS = {
  runs: { type: 'string' },
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  payload: { type: 'string' },
  targets: { type: 'string' },
  'http-connections': { type: 'string' },
  'publish-channels': { type: 'string' },
  'batch-size': { type: 'string' },
  'batch-channels': { type: 'string' },
} as const;

const TARGET_NAMES = ['fastify', 'herald-memory', 'herald-redis', 'herald-redis-batch'] as const;
type TargetName = (typeof TARGET_NAMES)[number];

/** Issue targets: Herald on Redis ≥ 70% of the bare route's requests/s; batch ≥ 100k publications/s. */
const TARGET_SHARE_OF_FASTIFY = 0.7;
const TARGET_BATCH_PUBLICATIONS_PER_S = 100_000;

const LABELS: Readonly<Record<TargetName, string>> = {
  fastify: 'bare Fastify route',
  'herald-memory': 'Herald, memory engine',
  'herald-redis': 'Herald, Redis',
  'herald-redis-batch': 'Herald, Redis, batch',
};

/** Which server a target runs on: targets on the same server share one start. */
type ServerKind = 'fastify' | 'herald-memory' | 'herald-redis';
const SERVER_OF: Readonly<Record<TargetName, ServerKind>> = {
  fastify: 'fastify',
  'herald-memory': 'herald-memory',
  'herald-redis': 'herald-redis',
  'herald-redis-batch': 'herald-redis',
};

interface Settings {
  readonly runs: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly payloadBytes: number;
  readonly targets: readonly TargetName[];
  readonly connections: number;
  readonly publishChannels: number;
  readonly batchSize: number;
  readonly batchChannels: number;
}

/** A started server, as the load sees it. */
interface Server {
  readonly url: string;
  readonly apiKey: string;
  /** CPU seconds so far of the server (`server`) and of Redis (`redis`). */
  cpu(): { server: number; redis: number };
  readonly versions: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** One target, one run. */
interface Measurement {
  readonly requestsPerS: number;
  readonly publicationsPerS: number;
  readonly latency: Percentiles;
  readonly non2xx: number;
  /** Connection errors, timeouts and 2xx answers reporting an error. */
  readonly failed: number;
  readonly firstFailure: string | undefined;
  /** % of one core during the measured seconds; `otherCpu` is everything else on the machine. */
  readonly serverCpu: number;
  readonly redisCpu: number;
  readonly loadCpu: number;
  readonly otherCpu: number;
}

export const publishApi: Scenario = {
  name: 'publish-api',
  description:
    'HTTP publish requests/s into one node with autocannon (closed loop, 32 connections): Herald ' +
    '`POST /api/publish` with history on the memory engine and on Redis against a bare Fastify route ' +
    '(the HTTP ceiling), and `POST /api/publish/batch` on Redis in publications/s.',
  options: OPTIONS,
  prepare(args, context) {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    const settings: Settings = {
      runs: intFlag('runs', values.runs, context.quick ? 1 : 3, 1, 20),
      seconds: numberFlag('seconds', values.seconds, context.quick ? 2 : 10, 1, 600),
      warmupSeconds: numberFlag('warmup', values.warmup, context.quick ? 0.5 : 2, 0, 60),
      payloadBytes: intFlag('payload', values.payload, 100, 40, 65_536),
      targets: targetsFlag(values.targets),
      connections: intFlag('http-connections', values['http-connections'], 32, 1, 1000),
      publishChannels: intFlag('publish-channels', values['publish-channels'], 100, 1, 10_000),
      batchSize: intFlag('batch-size', values['batch-size'], 100, 1, 1000),
      batchChannels: intFlag('batch-channels', values['batch-channels'], 10, 1, 1000),
    };
    return () => run(settings, context);
  },
};

function targetsFlag(value: string | undefined): TargetName[] {
  if (value === undefined) return [...TARGET_NAMES];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names)
    if (!(TARGET_NAMES as readonly string[]).includes(name))
      throw new RangeError(`--targets takes ${TARGET_NAMES.join(', ')}; got ${JSON.stringify(name)}`);
  return TARGET_NAMES.filter((name) => names.includes(name));
}

async function run(settings: Settings, context: ScenarioContext): Promise<ScenarioResult> {
  const measured = new Map<TargetName, Measurement[]>();
  const missing = new Map<TargetName, string>();
  const versions: Record<string, string> = {};
  const load = new LoadProcess('http-load', 'bench/load/http-load-process.ts');
  try {
    const kinds = [...new Set(settings.targets.map((target) => SERVER_OF[target]))];
    for (let run = 1; run <= settings.runs; run++) {
      for (const kind of kinds) {
        const targets = settings.targets.filter(
          (target) => SERVER_OF[target] === kind && !missing.has(target),
        );
        if (targets.length === 0) continue;
        const server = await startServer(kind);
        Object.assign(versions, server.versions);
        try {
          for (const target of targets) {
            context.log(`publish-api ${target}, run ${run} of ${settings.runs}`);
            const problem = await probe(server, target, settings);
            if (problem !== undefined) {
              context.log(`  ${problem}: skipped`);
              missing.set(target, problem);
              continue;
            }
            const result = await measure(server, load, target, settings);
            context.log(`  ${describe(target, result)}`);
            measured.set(target, [...(measured.get(target) ?? []), result]);
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await load.stop();
  }
  return report(settings, measured, missing, versions);
}

async function startServer(kind: ServerKind): Promise<Server> {
  if (kind === 'fastify') return startFastify();
  const system = await startSystem('herald', {
    nodes: 1,
    broker: kind === 'herald-redis' ? 'redis' : 'none',
  });
  return {
    url: system.nodeUrls[0] ?? '',
    apiKey: system.apiKey,
    cpu: () => {
      const cpu = system.cpu();
      return { server: cpu['node-1'] ?? 0, redis: cpu['redis'] ?? 0 };
    },
    versions: system.versions,
    stop: () => system.stop(),
  };
}

async function startFastify(): Promise<Server> {
  const port = await freePort();
  try {
    const node = await HeraldProcess.start({
      name: 'fastify-1',
      port,
      env: {},
      args: ['bin/run-ts.js', 'bench/peers/fastify-server.ts'],
    });
    return {
      url: node.url,
      apiKey: '',
      cpu: () => ({ server: processCpuSeconds(node.pid) ?? 0, redis: 0 }),
      versions: { fastify: packageVersion('fastify') },
      stop: async () => {
        await node.stop();
        releasePort(port);
      },
    };
  } catch (error) {
    releasePort(port);
    throw error;
  }
}

function packageVersion(name: string): string {
  const file = join(REPO_ROOT, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The URL, headers and bodies of a target's requests. */
function requestsOf(
  server: Server,
  target: TargetName,
  settings: Settings,
): Omit<HttpLoadRun, 'connections' | 'seconds'> {
  const data = (seq: number) => {
    const head = `{"seq":${seq},"text":"`;
    return `${head}${'x'.repeat(Math.max(0, settings.payloadBytes - head.length - 2))}"}`;
  };
  if (target === 'herald-redis-batch') {
    // Ten bodies, each spreading its publications over its own `batchChannels` channels.
    const bodies = Array.from({ length: 10 }, (_, b) => {
      const items = Array.from(
        { length: settings.batchSize },
        (_, j) =>
          `{"channel":"bench:batch-${b * settings.batchChannels + (j % settings.batchChannels)}","data":${data(j)}}`,
      );
      return `{"publications":[${items.join(',')}]}`;
    });
    return {
      url: `${server.url}/api/publish/batch`,
      headers: authorization(server),
      bodies,
      checkBody: true,
    };
  }
  const bodies = Array.from(
    { length: settings.publishChannels },
    (_, i) => `{"channel":"bench:pub-${i}","data":${data(i)}}`,
  );
  const path = target === 'fastify' ? '/publish' : '/api/publish';
  return { url: `${server.url}${path}`, headers: authorization(server), bodies, checkBody: false };
}

function authorization(server: Server): Record<string, string> {
  return server.apiKey === '' ? {} : { authorization: `apikey ${server.apiKey}` };
}

/** Sends one request by hand: undefined if it worked, a reason if the endpoint is missing; throws otherwise. */
async function probe(server: Server, target: TargetName, settings: Settings): Promise<string | undefined> {
  const { url, headers, bodies } = requestsOf(server, target, settings);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: bodies[0] ?? '',
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status === 404) return `${new URL(url).pathname} answered 404 (endpoint missing)`;
  if (!response.ok || text.includes('"error"'))
    throw new Error(`${target}: ${new URL(url).pathname} answered ${response.status} ${text.slice(0, 300)}`);
  return undefined;
}

async function measure(
  server: Server,
  load: LoadProcess,
  target: TargetName,
  settings: Settings,
): Promise<Measurement> {
  const requests = requestsOf(server, target, settings);
  const options = (seconds: number): HttpLoadRun => ({
    ...requests,
    connections: settings.connections,
    seconds,
  });
  const timeout = (seconds: number) => (seconds + 30) * 1000;
  if (settings.warmupSeconds > 0)
    await load.call<HttpLoadReport>('run', options(settings.warmupSeconds), timeout(settings.warmupSeconds));
  const before = { ...server.cpu(), load: processCpuSeconds(load.pid) ?? 0, machine: machineBusySeconds() };
  const started = performance.now();
  const result = await load.call<HttpLoadReport>('run', options(settings.seconds), timeout(settings.seconds));
  const elapsed = (performance.now() - started) / 1000;
  const after = { ...server.cpu(), load: processCpuSeconds(load.pid) ?? 0, machine: machineBusySeconds() };
  const percent = (key: keyof typeof before) => Math.round(((after[key] - before[key]) / elapsed) * 100);
  const latency = new LatencyHistogram();
  latency.merge(result.latency);
  const requestsPerS = result.ok / result.seconds;
  const perRequest = target === 'herald-redis-batch' ? settings.batchSize : 1;
  return {
    requestsPerS: Math.round(requestsPerS),
    publicationsPerS: Math.round(requestsPerS * perRequest),
    latency: latency.percentiles(),
    non2xx: result.non2xx,
    failed: result.errors + result.bodyErrors,
    firstFailure: result.firstFailure,
    serverCpu: percent('server'),
    redisCpu: percent('redis'),
    loadCpu: percent('load'),
    otherCpu: Math.max(0, percent('machine') - percent('server') - percent('redis') - percent('load')),
  };
}

function describe(target: TargetName, m: Measurement): string {
  return (
    `${formatNumber(m.requestsPerS)} requests/s` +
    (target === 'herald-redis-batch' ? ` (${formatNumber(m.publicationsPerS)} publications/s)` : '') +
    `, p50 ${m.latency.p50} ms p99 ${m.latency.p99} ms, CPU server ${m.serverCpu}% Redis ${m.redisCpu}% ` +
    `load ${m.loadCpu}% other ${m.otherCpu}%` +
    (m.non2xx + m.failed > 0 ? `, ${m.non2xx} non-2xx, ${m.failed} failed (${m.firstFailure})` : '')
  );
}

/** A target's figures: medians of its runs, failures summed. */
interface Figures {
  readonly requestsPerS: number;
  readonly publicationsPerS: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly failed: number;
  readonly serverCpu: number;
  readonly redisCpu: number;
  readonly loadCpu: number;
  readonly otherCpu: number;
  readonly each: readonly number[];
}

function figuresOf(runs: readonly Measurement[]): Figures {
  const at = (pick: (m: Measurement) => number) => median(runs.map(pick));
  return {
    requestsPerS: at((m) => m.requestsPerS),
    publicationsPerS: at((m) => m.publicationsPerS),
    p50: at((m) => m.latency.p50),
    p99: at((m) => m.latency.p99),
    non2xx: runs.reduce((sum, m) => sum + m.non2xx, 0),
    failed: runs.reduce((sum, m) => sum + m.failed, 0),
    serverCpu: at((m) => m.serverCpu),
    redisCpu: at((m) => m.redisCpu),
    loadCpu: at((m) => m.loadCpu),
    otherCpu: at((m) => m.otherCpu),
    each: runs.map((m) => m.requestsPerS),
  };
}

function report(
  settings: Settings,
  measured: ReadonlyMap<TargetName, readonly Measurement[]>,
  missing: ReadonlyMap<TargetName, string>,
  versions: Record<string, string>,
): ScenarioResult {
  const figures = new Map<TargetName, Figures>();
  for (const target of settings.targets) {
    const runs = measured.get(target) ?? [];
    if (runs.length > 0) figures.set(target, figuresOf(runs));
  }
  const rows = [...figures].flatMap(([target, figure]) => resultRows(settings, target, figure));
  const sections = [
    table(settings, figures, missing),
    '',
    `Closed loop: autocannon keeps ${settings.connections} kept-alive connections busy (no pipelining) for ` +
      `${settings.seconds} s after ${settings.warmupSeconds} s of warm-up, from its own process. Requests/s ` +
      `counts 2xx answers (a batch answer reporting an error counts as failed). Herald publishes with history ` +
      `(\`bench\` namespace: 100 publications, 10 minutes) to ${settings.publishChannels} channels in turn, ` +
      `~${settings.payloadBytes} bytes of JSON data each; the batch carries ${settings.batchSize} publications ` +
      `over ${settings.batchChannels} channels per request. The bare Fastify route parses the same body and ` +
      `answers a fixed JSON. CPU is % of one core during the measured seconds; "other" is everything else on ` +
      `the machine (high values there mean a noisy figure). Figures are medians of ` +
      `${settings.runs} run(s), each on a fresh server; non-2xx and failed are summed over the runs. Targets: ` +
      `Herald on Redis ≥ ${TARGET_SHARE_OF_FASTIFY * 100}% of the bare route's requests/s; the batch ` +
      `endpoint ≥ ${formatNumber(TARGET_BATCH_PUBLICATIONS_PER_S)} publications/s.`,
  ];
  return { rows, report: sections.join('\n'), summary: summaryLines(figures, missing), versions };
}

function resultRows(settings: Settings, target: TargetName, figure: Figures): ResultRow[] {
  const batch = target === 'herald-redis-batch';
  const params = {
    engine: target === 'fastify' ? 'none' : target === 'herald-memory' ? 'memory' : 'redis',
    endpoint: target === 'fastify' ? '/publish' : batch ? '/api/publish/batch' : '/api/publish',
    connections: settings.connections,
    seconds: settings.seconds,
    runs: settings.runs,
    payloadBytes: settings.payloadBytes,
    publicationsPerRequest: batch ? settings.batchSize : 1,
    channels: batch ? settings.batchChannels * 10 : settings.publishChannels,
  };
  const system = target === 'fastify' ? 'fastify' : 'herald';
  const row = (metric: string, value: number, unit: string): ResultRow => ({
    ...{ scenario: 'publish-api', system, metric, value, unit, params },
  });
  return [
    row('requests_per_s', figure.requestsPerS, '1/s'),
    row('publications_per_s', figure.publicationsPerS, '1/s'),
    row('latency_p50', figure.p50, 'ms'),
    row('latency_p99', figure.p99, 'ms'),
    row('non_2xx', figure.non2xx, 'count'),
    row('failed', figure.failed, 'count'),
    row('server_cpu', figure.serverCpu, '%'),
    ...(target === 'fastify' || target === 'herald-memory' ? [] : [row('redis_cpu', figure.redisCpu, '%')]),
    row('load_cpu', figure.loadCpu, '%'),
    row('other_cpu', figure.otherCpu, '%'),
  ];
}

function table(
  settings: Settings,
  figures: ReadonlyMap<TargetName, Figures>,
  missing: ReadonlyMap<TargetName, string>,
): string {
  const fastify = figures.get('fastify')?.requestsPerS;
  const lines = settings.targets.map((target) => {
    const figure = figures.get(target);
    if (figure === undefined) return [LABELS[target], missing.get(target) ?? 'not measured'];
    const batch = target === 'herald-redis-batch';
    return [
      LABELS[target],
      formatNumber(figure.requestsPerS),
      formatNumber(figure.publicationsPerS),
      target === 'fastify' || batch || fastify === undefined
        ? '—'
        : `${(figure.requestsPerS / fastify).toFixed(2)}×`,
      `${figure.p50.toFixed(2)} / ${figure.p99.toFixed(2)}`,
      `${figure.non2xx} / ${figure.failed}`,
      `${figure.serverCpu}% / ${target === 'fastify' || target === 'herald-memory' ? '—' : `${figure.redisCpu}%`} / ${figure.loadCpu}% / ${figure.otherCpu}%`,
      figure.each.map(formatNumber).join(', '),
    ];
  });
  return markdownTable(
    [
      'target',
      'requests/s',
      'publications/s',
      'Herald ÷ Fastify',
      'p50 / p99 ms',
      'non-2xx / failed',
      'CPU server / Redis / load / other',
      'requests/s of each run',
    ],
    lines,
  );
}

function summaryLines(
  figures: ReadonlyMap<TargetName, Figures>,
  missing: ReadonlyMap<TargetName, string>,
): string[] {
  const fastify = figures.get('fastify')?.requestsPerS;
  const share = (value: number) =>
    fastify === undefined ? '' : ` = ${(value / fastify).toFixed(2)}× Fastify`;
  const lines: string[] = [];
  if (fastify !== undefined) lines.push(`bare Fastify route: ${formatNumber(fastify)} requests/s`);
  const memory = figures.get('herald-memory');
  if (memory !== undefined)
    lines.push(
      `Herald publish, memory engine: ${formatNumber(memory.requestsPerS)} requests/s${share(memory.requestsPerS)}`,
    );
  const redis = figures.get('herald-redis');
  if (redis !== undefined)
    lines.push(
      `Herald publish, Redis: ${formatNumber(redis.requestsPerS)} requests/s${share(redis.requestsPerS)} ` +
        `(target ≥ ${TARGET_SHARE_OF_FASTIFY.toFixed(2)}×)`,
    );
  const batch = figures.get('herald-redis-batch');
  if (batch !== undefined)
    lines.push(
      `Herald batch publish, Redis: ${formatNumber(batch.publicationsPerS)} publications/s ` +
        `(target ≥ ${formatNumber(TARGET_BATCH_PUBLICATIONS_PER_S)})`,
    );
  for (const [target, reason] of missing) lines.push(`${LABELS[target]}: ${reason}`);
  return lines;
}
