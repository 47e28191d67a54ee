/**
 * One fuzzing run: starts a Herald process, runs the protocol fuzzer against it with a control
 * client, then the HTTP fuzzer, and stops it. `npm run fuzz` (run.ts) and test/fuzz/fuzz.test.ts
 * both call {@link runFuzz}; {@link formatSummary} is the table the command prints.
 */
import { mintToken } from '../../src/auth/tokens.ts';
import { TEST_API_KEY, TEST_TOKEN_SECRET } from '../helpers/config.ts';
import { startRedis } from '../helpers/redis.ts';
import { fuzzApi, type ApiFuzzResult } from './api-fuzzer.ts';
import { FuzzServer } from './fuzz-server.ts';
import { fuzzProtocol, HEAP_GROWTH_BOUND_BYTES, type ProtocolFuzzResult } from './protocol-fuzzer.ts';
import { FOREIGN_SECRET, FUZZ_TOKENS, HISTORY_CHANNELS } from './scenario.ts';

export interface FuzzOptions {
  readonly seed: number;
  /** Protocol frames to send in all. */
  readonly frames: number;
  /** Protocol connections open at once. Default 32. */
  readonly concurrency?: number;
  /** Random mutations per API route. */
  readonly apiRounds: number;
  /** Frames POSTed to SSE sessions. */
  readonly sseFrames: number;
  /** The fuzzed server's engine: the embedded memory engine (default), or a Redis the run starts. */
  readonly engine?: 'memory' | 'redis';
  /** The server's frame limit. Default 64 KiB, the production default. */
  readonly maxFrameBytes?: number;
  readonly onProgress?: (framesSent: number) => void;
}

export interface FuzzResult {
  readonly seed: number;
  readonly engine: 'memory' | 'redis';
  readonly protocol: ProtocolFuzzResult;
  readonly api: ApiFuzzResult;
  /** The server process's exit, when it crashed. */
  readonly crashed: string | undefined;
  /** Error-level lines the server logged (the first few) and how many. */
  readonly errorLogs: readonly string[];
  readonly errorLogCount: number;
  readonly durationMs: number;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const started = Date.now();
  const maxFrameBytes = options.maxFrameBytes ?? 64 * 1024;
  const engine = options.engine ?? 'memory';
  const redis = engine === 'redis' ? await startRedis() : undefined;
  const server = await FuzzServer.start(maxFrameBytes, redis?.url).catch(async (err: unknown) => {
    await redis?.stop();
    throw err;
  });
  try {
    const tokens = new Map<string, string>();
    for (const [name, mint] of Object.entries(FUZZ_TOKENS)) {
      tokens.set(name, await mintToken(name === 'foreign' ? FOREIGN_SECRET : TEST_TOKEN_SECRET, mint));
    }
    const epochs = await learnEpochs(server.url);
    const fill = (text: string) =>
      text.replace(
        /\{\{(token|epoch):([^}]+)\}\}/g,
        (whole, kind: string, name: string) =>
          (kind === 'token' ? tokens.get(name) : epochs.get(name)) ?? whole,
      );
    const protocol = await fuzzProtocol({
      wsUrl: server.wsUrl,
      port: server.port,
      seed: options.seed,
      frames: options.frames,
      concurrency: options.concurrency ?? 32,
      maxFrameBytes,
      fill,
      controlToken: await mintToken(TEST_TOKEN_SECRET, { user: 'fuzz-control' }),
      heap: async () => (await server.heap()).heapUsed,
      alive: () => server.alive,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    const api = await fuzzApi({
      url: server.url,
      port: server.port,
      seed: options.seed,
      apiKey: TEST_API_KEY,
      rounds: options.apiRounds,
      sseFrames: options.sseFrames,
      maxFrameBytes,
      fill,
      token: tokens.get('alice') ?? '',
    });
    if (!server.alive) protocol.violations.add('server', 'the server process exited during the HTTP fuzzing');
    const crash = server.crash;
    return {
      seed: options.seed,
      engine,
      protocol,
      api,
      crashed:
        crash === undefined ? undefined : `exit ${crash.code ?? crash.signal}: ${crash.stderr.slice(-2000)}`,
      errorLogs: server.errorLogs,
      errorLogCount: server.errorLogCount,
      durationMs: Date.now() - started,
    };
  } finally {
    await server.stop();
    await redis?.stop();
  }
}

/** The epoch of every channel of the pool that keeps history, made by publishing once to each. */
async function learnEpochs(url: string): Promise<Map<string, string>> {
  const epochs = new Map<string, string>();
  for (const channel of HISTORY_CHANNELS) {
    const response = await fetch(`${url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel, data: { seeded: true } }),
    });
    const body = (await response.json()) as { epoch?: string };
    if (body.epoch !== undefined) epochs.set(channel, body.epoch);
  }
  return epochs;
}

/** Whether the run found nothing: no crash, no violation, no error logged, heap within bounds. */
export function passed(result: FuzzResult): boolean {
  return (
    result.crashed === undefined &&
    result.protocol.violations.total === 0 &&
    result.api.violations.total === 0 &&
    result.errorLogCount === 0 &&
    result.protocol.heapGrowth <= HEAP_GROWTH_BOUND_BYTES
  );
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const count = (n: number) => n.toLocaleString('en-US');

/** The summary `npm run fuzz` prints. */
export function formatSummary(result: FuzzResult): string {
  const { protocol, api } = result;
  const rows: [string, string][] = [
    ['seed', String(result.seed)],
    ['engine', result.engine === 'redis' ? 'Redis (a redis-server the run started)' : 'memory'],
    [
      'duration',
      `${(result.durationMs / 1000).toFixed(1)} s (protocol ${(protocol.durationMs / 1000).toFixed(1)} s, HTTP ${(api.durationMs / 1000).toFixed(1)} s)`,
    ],
    ['crashes', result.crashed === undefined ? '0' : `1: ${result.crashed}`],
    ['protocol frames sent', count(protocol.framesSent)],
    ['messages in them', count(protocol.messagesSent)],
    ['connections', count(protocol.connections)],
    ['replies', tallyLine(protocol.replies.entries())],
    ['closes by code', tallyLine(protocol.closes.entries())],
    ['refused handshakes', count(protocol.handshakes.total)],
    [
      'control round trips',
      `${count(protocol.control.roundTrips)} (failed ${protocol.control.failures}, slowest ${protocol.control.maxLatencyMs} ms)`,
    ],
    [
      'server heap after GC',
      `start ${mib(protocol.heap[0] ?? 0)}, first third ${mib(protocol.heapFirstThird)}, last third ${mib(protocol.heapLastThird)}: growth ${mib(protocol.heapGrowth)} (bound ${mib(HEAP_GROWTH_BOUND_BYTES)})`,
    ],
    [
      'HTTP requests',
      `${count(api.requests)} over ${api.operations} API operations + dashboard + SSE (${tallyLine(api.areas.entries())})`,
    ],
    ['HTTP answers by status', tallyLine(api.statuses.entries())],
    ['HTTP errors by code', tallyLine(api.codes.entries())],
    ['SSE stream events', tallyLine(api.sseEvents.entries())],
    ['error-level server logs', String(result.errorLogCount)],
    [
      'protocol violations',
      `${protocol.violations.total} (${tallyLine(protocol.violations.counts.entries())})`,
    ],
    ['HTTP violations', `${api.violations.total} (${tallyLine(api.violations.counts.entries())})`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`);
  lines.push('', 'frames by kind:', wrap(tallyLine(protocol.framesByKind.entries())));
  for (const example of [...protocol.violations.examples, ...api.violations.examples])
    lines.push(`  ! ${example}`);
  for (const log of result.errorLogs) lines.push(`  log: ${log.slice(0, 500)}`);
  return lines.join('\n');
}

function tallyLine(entries: [string, number][]): string {
  return entries.length === 0 ? '-' : entries.map(([key, n]) => `${key}: ${count(n)}`).join(', ');
}

function wrap(text: string, width = 100): string {
  const out: string[] = [];
  let line = ' ';
  for (const word of text.split(' ')) {
    if (line.length + word.length > width) {
      out.push(line);
      line = ' ';
    }
    line += ` ${word}`;
  }
  out.push(line);
  return out.join('\n');
}
