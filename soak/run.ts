/**
 * The soak: steady load on two Herald nodes sharing a real Redis for N minutes, sampling every few
 * seconds each node's memory and event-loop lag (from `/metrics`) and the subscribers' delivery lag and
 * checks; then the verdict: nothing lost or duplicated, and memory flat after the warm-up
 * (soak/lib/analysis.ts has the limits). Writes `soak-<time>.csv`, `soak-<time>.svg` and `latest.md`
 * to soak/results/. Exits 1 on a failed verdict. docs/reliability.md, "Soak", explains it.
 *
 *   npm run soak -- --minutes 30      npm run soak -- --quick      npm run soak -- --help
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { LatencyHistogram } from '../bench/lib/histogram.ts';
import { exitOnSignals, REPO_ROOT, sleep } from '../bench/lib/processes.ts';
import { judgeNode, MIN_JUDGED_MINUTES, type Point } from './lib/analysis.ts';
import { NAMESPACE, SoakFleet, type GcReading, type NodeSample } from './lib/fleet.ts';
import { Load, type LoadTake } from './lib/load.ts';
import { toCsv, toMarkdown, toSvg, type NodeRow, type Sample } from './lib/report.ts';
import { HELP, readSettings, type Settings } from './lib/settings.ts';

const NODES = 2;
/** How long the subscribers get at the end to receive the last acknowledged publications. */
const FINISH_WAIT_MS = 30_000;

const log = (line: string) => console.error(`[soak] ${line}`);

let settings: Settings | undefined;
try {
  settings = readSettings(process.argv.slice(2));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
  process.exit(2);
}
if (settings === undefined) {
  console.log(HELP);
  process.exit(0);
}
exitOnSignals(log);
process.exit(await soak(settings));

async function soak(settings: Settings): Promise<number> {
  const startedAt = new Date();
  const loadAverage = loadavg()[0] ?? 0;
  log(`starting Redis and ${NODES} Herald nodes`);
  const fleet = await SoakFleet.start(NODES);
  const run = randomBytes(3).toString('hex');
  const channels = Array.from({ length: settings.channels }, (_, i) => `${NAMESPACE}:${run}-${i}`);
  const load = new Load({
    urls: fleet.urls,
    apiKey: fleet.apiKey,
    secret: fleet.secret,
    channels,
    subscribers: settings.subscribers,
    rate: settings.rate,
    payload: settings.payload,
  });
  try {
    log(`opening ${settings.subscribers} subscribers on ${settings.channels} channels`);
    await load.open();
    await load.publish();
    await load.churn(settings.churn);
    log(
      `load running: ${settings.rate} publications/s, ${settings.churn} reconnects/s, ` +
        `${settings.minutes} minutes (warm-up ${settings.warmupMinutes})`,
    );
    const { samples, takes } = await sampleLoop(settings, fleet, load);
    const result = await finishLoad(load, samples, takes);
    return report(settings, fleet, samples, result, { startedAt, loadAverage });
  } finally {
    await load.stop();
    await fleet.stop();
  }
}

interface Totals {
  lag: LatencyHistogram;
  acknowledged: number;
  delivered: number;
  recovered: number;
  reconnects: number;
  unexpectedCloses: number;
  errors: number;
  missing: number;
  duplicates: number;
  unrecoverable: number;
  epochChanges: number;
  errorSamples: string[];
}

/** Samples every few seconds until the end; forced-GC readings at the warm-up's end, periodically, last. */
async function sampleLoop(
  settings: Settings,
  fleet: SoakFleet,
  load: Load,
): Promise<{ samples: Sample[]; takes: LoadTake[] }> {
  const started = performance.now();
  const endS = settings.minutes * 60;
  const warmupS = settings.warmupMinutes * 60;
  const samples: Sample[] = [];
  const takes: LoadTake[] = [];
  let previous = { t: 0, cpu: fleet.nodes.map(() => Number.NaN) };
  let nextGcS = warmupS;
  let lastLogS = 0;
  for (let k = 1; ; k++) {
    const dueS = Math.min(k * settings.sampleSeconds, endS);
    await sleep(Math.max(0, started + dueS * 1000 - performance.now()));
    const t = (performance.now() - started) / 1000;
    for (const node of fleet.nodes)
      if (node.process.pid === undefined) throw new Error(`${node.name} exited during the soak`);
    const [nodes, take] = await Promise.all([sampleNodes(fleet), load.take()]);
    const last = dueS >= endS;
    let gc: (GcReading | undefined)[] = [];
    if (t >= nextGcS || last) {
      gc = await Promise.all(fleet.nodes.map((_, i) => fleet.collect(i)));
      nextGcS = Math.max(t, warmupS) + settings.gcEveryMinutes * 60;
    }
    const interval = t - previous.t;
    const rows = nodes.map((node, i): NodeRow => {
      const reading = gc[i];
      return {
        ...node,
        cpuPct: ((node.cpuSeconds - (previous.cpu[i] ?? Number.NaN)) / interval) * 100,
        ...(reading === undefined ? {} : { gcHeapMb: reading.heapMb, gcRssMb: reading.rssMb }),
      };
    });
    const sample = toSample(t, t > warmupS, rows, take, interval, await fleet.redisUsedMb());
    samples.push(sample);
    takes.push(take);
    previous = { t, cpu: nodes.map((node) => node.cpuSeconds) };
    for (const line of take.errorSamples) log(`  ${line}`);
    if (t - lastLogS >= 60 - settings.sampleSeconds / 2 || last) {
      lastLogS = t;
      log(progressLine(sample, settings));
    }
    if (last) return { samples, takes };
  }
}

async function sampleNodes(fleet: SoakFleet): Promise<NodeSample[]> {
  return Promise.all(
    fleet.nodes.map((node, i) =>
      fleet.sample(i).catch((error: unknown): NodeSample => {
        log(`${node.name}: scrape failed: ${error instanceof Error ? error.message : String(error)}`);
        const missing = Number.NaN;
        return {
          ...{ rssMb: missing, heapUsedMb: missing, heapTotalMb: missing, externalMb: missing },
          ...{ oldSpaceTotalMb: missing, codeSpaceTotalMb: missing, loopP99Ms: missing, loopMaxMs: missing },
          ...{ cpuSeconds: missing, connections: missing, subscriptions: missing, openFds: missing },
          delivered: missing,
        };
      }),
    ),
  );
}

function toSample(
  t: number,
  steady: boolean,
  nodes: readonly NodeRow[],
  take: LoadTake,
  interval: number,
  redisMb: number,
): Sample {
  const lag = take.lag.percentiles();
  const scrapeFailures = nodes.filter((node) => !Number.isFinite(node.rssMb)).length;
  return {
    t,
    phase: steady ? 'steady' : 'warmup',
    nodes,
    publishedPerS: take.published / interval,
    deliveriesPerS: (take.live + take.recovered) / interval,
    recovered: take.recovered,
    lagP50: lag.p50,
    lagP99: lag.p99,
    lagMax: lag.max,
    reconnects: take.reconnects,
    unexpectedCloses: take.unexpectedCloses,
    errors: take.errors + take.publishFailed + take.skipped + scrapeFailures,
    gaps: take.gaps + take.epochChanges,
    missing: take.missing,
    duplicates: take.duplicates,
    unrecoverable: take.unrecoverable,
    subscribed: take.subscribed,
    redisMb,
  };
}

function progressLine(sample: Sample, settings: Settings): string {
  const nodes = sample.nodes
    .map(
      (node, i) =>
        `node-${i} rss ${node.rssMb.toFixed(0)} heap ${node.heapUsedMb.toFixed(0)}` +
        `${node.gcHeapMb === undefined ? '' : ` (GC ${node.gcHeapMb.toFixed(1)})`} MB loop p99 ${node.loopP99Ms.toFixed(1)} ms cpu ${node.cpuPct.toFixed(0)}%`,
    )
    .join(' | ');
  return (
    `${(sample.t / 60).toFixed(1)}/${settings.minutes} min ${sample.phase}: ${nodes} | ` +
    `${sample.publishedPerS.toFixed(0)} pub/s, ${sample.deliveriesPerS.toFixed(0)} deliveries/s, lag p50 ` +
    `${sample.lagP50.toFixed(1)} p99 ${sample.lagP99.toFixed(1)} ms, ${sample.subscribed} subscribed, ` +
    `missing ${sample.missing} dup ${sample.duplicates} errors ${sample.errors}`
  );
}

interface FinishOutcome {
  readonly totals: Totals;
  readonly lost: number;
  readonly problems: string[];
}

/** Stops the load, checks that every subscriber got every acknowledged publication, and sums it all. */
async function finishLoad(
  load: Load,
  samples: readonly Sample[],
  sampled: readonly LoadTake[],
): Promise<FinishOutcome> {
  log('stopping the load; waiting for the subscribers to catch up');
  const { publisher, subscribers } = await load.finish(FINISH_WAIT_MS);
  const last = await load.take();
  const takes = [...sampled, last];
  const totals: Totals = {
    lag: new LatencyHistogram(),
    acknowledged: publisher.acknowledged,
    ...{ delivered: 0, recovered: 0, reconnects: 0, unexpectedCloses: 0, errors: 0 },
    ...{ missing: 0, duplicates: 0, unrecoverable: 0, epochChanges: 0, errorSamples: [] },
  };
  takes.forEach((take, i) => {
    if (samples[i]?.phase === 'steady') totals.lag.merge(take.lag.export());
    totals.delivered += take.live + take.recovered;
    totals.recovered += take.recovered;
    totals.reconnects += take.reconnects;
    totals.unexpectedCloses += take.unexpectedCloses;
    totals.errors += take.errors + take.publishFailed + take.skipped;
    totals.missing += take.missing;
    totals.duplicates += take.duplicates;
    totals.unrecoverable += take.unrecoverable;
    totals.epochChanges += take.epochChanges;
    if (totals.errorSamples.length < 10) totals.errorSamples.push(...take.errorSamples);
  });
  const problems: string[] = [];
  const lost = totals.missing + subscribers.shortfall;
  if (lost > 0)
    problems.push(
      `${lost} publications lost (${totals.missing} in gaps, ${subscribers.shortfall} never arrived)`,
    );
  if (totals.duplicates > 0) problems.push(`${totals.duplicates} publications duplicated`);
  if (totals.unrecoverable > 0) problems.push(`${totals.unrecoverable} reconnects could not recover`);
  if (totals.epochChanges > 0) problems.push(`${totals.epochChanges} epoch changes seen by subscribers`);
  if (subscribers.notSubscribed > 0)
    problems.push(`${subscribers.notSubscribed} subscribers not back at the end`);
  for (const sample of subscribers.samples) log(`  behind: ${sample}`);
  // Offsets acknowledged out of turn only mean something when every publish was answered.
  const publishFailures = takes.reduce((sum, take) => sum + take.publishFailed, 0);
  if (publisher.problems.length > 0 && publishFailures === 0) problems.push(...publisher.problems);
  if (publisher.acknowledged === 0) problems.push('nothing was published');
  return { totals, lost, problems };
}

function report(
  settings: Settings,
  fleet: SoakFleet,
  samples: readonly Sample[],
  outcome: FinishOutcome,
  context: { startedAt: Date; loadAverage: number },
): number {
  const warmupS = settings.warmupMinutes * 60;
  const steadyMinutes = settings.minutes - settings.warmupMinutes;
  const judged = steadyMinutes >= MIN_JUDGED_MINUTES;
  const names = fleet.nodes.map((node) => node.name);
  const verdicts = names.map((name, i) => {
    const points = (read: (node: NodeRow) => number | undefined, steadyOnly: boolean): Point[] =>
      samples
        .filter((s) => !steadyOnly || s.phase === 'steady')
        .flatMap((s) => {
          const value = s.nodes[i] === undefined ? undefined : read(s.nodes[i]);
          return value === undefined || !Number.isFinite(value) ? [] : [[s.t, value] as const];
        });
    return judgeNode(
      {
        name,
        gcHeap: points((n) => n.gcHeapMb, false),
        gcRss: points((n) => n.gcRssMb, false),
        heap: points((n) => n.heapUsedMb, true),
        rss: points((n) => n.rssMb, true),
        committed: points((n) => n.heapTotalMb, true),
      },
      judged,
    );
  });
  const problems = [...outcome.problems, ...verdicts.flatMap((v) => v.problems)];
  const stamp = context.startedAt.toISOString().slice(0, 16).replaceAll(':', '').replace('T', '-');
  mkdirSync(settings.out, { recursive: true });
  const csvFile = `soak-${stamp}.csv`;
  const svgFile = `soak-${stamp}.svg`;
  writeFileSync(join(settings.out, csvFile), toCsv(samples, names));
  writeFileSync(join(settings.out, svgFile), toSvg(samples, names, warmupS));
  const lag = outcome.totals.lag.percentiles();
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const flags = process.argv.slice(2).join(' ');
  const loadEnd = loadavg() as [number, number, number];
  const markdown = toMarkdown(
    {
      command: `npm run soak${flags === '' ? '' : ` -- ${flags}`}`,
      date: context.startedAt.toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      machine:
        `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, ` +
        `Redis ${fleet.redisVersion}; load average ${context.loadAverage.toFixed(2)} at the start, ` +
        `${loadEnd[0].toFixed(2)} and ${loadEnd[2].toFixed(2)} (1 and 15 minutes) at the end`,
      load:
        `${settings.subscribers} WebSocket subscribers (half on each node) on ${settings.channels} channels; ` +
        `${settings.rate} publications/s of ${settings.payload} bytes over HTTP to the nodes in turn; ` +
        `${settings.churn} subscribers/s dropped and reconnected with \`since\``,
      minutes: settings.minutes,
      warmupMinutes: +settings.warmupMinutes.toFixed(2),
      judged,
      verdicts,
      acknowledged: outcome.totals.acknowledged,
      delivered: outcome.totals.delivered,
      recovered: outcome.totals.recovered,
      reconnects: outcome.totals.reconnects,
      lag: { p50: lag.p50, p99: lag.p99, max: lag.max },
      lost: outcome.lost,
      duplicated: outcome.totals.duplicates,
      unrecoverable: outcome.totals.unrecoverable,
      unexpectedCloses: outcome.totals.unexpectedCloses,
      errors: outcome.totals.errors,
      problems,
      csvFile,
      svgFile,
    },
    samples,
  );
  writeFileSync(join(settings.out, 'latest.md'), markdown);
  console.log(markdown);
  const where = relative(REPO_ROOT, settings.out) || '.';
  log(`wrote ${where}/${csvFile}, ${where}/${svgFile} and ${where}/latest.md`);
  log(problems.length === 0 ? 'PASS' : `FAIL:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return problems.length === 0 ? 0 : 1;
}
