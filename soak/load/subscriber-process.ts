/**
 * A soak load process holding a share of the subscribers ({@link SoakClient}), driven over IPC by
 * soak/run.ts (bench's `LoadProcess`). It also makes the connection churn: a few of its clients a second
 * drop their connection (half abruptly, half with a clean close) and come back a moment later, mostly on
 * the other node, recovering what they missed with `since`. Every connection gets a fresh token for a new
 * user, so per-user and per-client state on the server is created and must be dropped all the time.
 */
import { LatencyHistogram, type HistogramData } from '../../bench/lib/histogram.ts';
import { serveRequests } from '../../bench/lib/load-process.ts';
import { sleep } from '../../bench/lib/processes.ts';
import { mintToken } from '../../src/auth/tokens.ts';
import { emptyTally, type Position, type StreamTally } from '../lib/stream-check.ts';
import { SoakClient, type ClientSink } from './soak-client.ts';

export interface OpenRequest {
  /** Names this process in user names. */
  readonly name: string;
  readonly urls: readonly string[];
  readonly secret: string;
  /** One entry per client: its channel and the node it connects to first. */
  readonly clients: readonly { readonly channel: string; readonly node: number }[];
  /** Clients connecting at once. */
  readonly concurrency: number;
}

/** Counts since the previous `take`. */
export interface TakeResult extends StreamTally {
  readonly lag: HistogramData;
  readonly reconnects: number;
  readonly unexpectedCloses: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  /** Clients subscribed right now, of {@link clients}. */
  readonly subscribed: number;
  readonly clients: number;
}

export interface FinishRequest {
  /** The last acknowledged position of each channel. */
  readonly final: Readonly<Record<string, Position>>;
  readonly waitMs: number;
}

export interface FinishResult {
  /** Clients not subscribed when the wait ended. */
  readonly notSubscribed: number;
  /** Clients whose position is short of (or beyond, or in another epoch than) their channel's final one. */
  readonly behind: number;
  /** Acknowledged publications those clients did not receive. */
  readonly shortfall: number;
  readonly samples: readonly string[];
}

const SAMPLES = 5;
/** Churn skips a beat while this share of the clients is still away. */
const MAX_AWAY_SHARE = 0.05;

let clients: SoakClient[] = [];
/** Shared by every client's stream check, so reset in place. */
const tally = emptyTally();
let histogram = new LatencyHistogram();
let counters = { reconnects: 0, unexpectedCloses: 0, errors: 0 };
let errorSamples: string[] = [];
let churnTimer: NodeJS.Timeout | undefined;
let userCounter = 0;

const sample = (reason: string) => {
  if (errorSamples.length < SAMPLES) errorSamples.push(reason);
};
const sink: ClientSink = {
  tally,
  lag: (ms) => histogram.record(ms),
  unexpectedClose: (reason) => {
    counters.unexpectedCloses += 1;
    sample(reason);
  },
  error: (reason) => {
    counters.errors += 1;
    sample(reason);
  },
};

async function open(request: OpenRequest): Promise<{ opened: number; failed: number; firstError?: string }> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const token = () => mintToken(request.secret, { user: `soak-${request.name}-${++userCounter}` });
  const worker = async () => {
    while (next < request.clients.length) {
      const spec = request.clients[next++];
      if (spec === undefined) break;
      const client = new SoakClient({
        urls: request.urls,
        node: spec.node,
        channel: spec.channel,
        token,
        sink,
      });
      try {
        await client.open();
        clients.push(client);
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
  return { opened: clients.length, failed, ...(firstError === undefined ? {} : { firstError }) };
}

/** Starts (or, with 0, stops) dropping `perSecond` random subscribed clients a second. */
function churn(perSecond: number): null {
  clearInterval(churnTimer);
  churnTimer = undefined;
  if (perSecond <= 0) return null;
  let beat = 0;
  churnTimer = setInterval(() => {
    const away = clients.filter((client) => !client.subscribed).length;
    if (away > clients.length * MAX_AWAY_SHARE) return;
    const client = clients[Math.floor(Math.random() * clients.length)];
    beat += 1;
    // Away 100 ms to 1 s: with a few publications a second per channel, most come back having missed some.
    // Three in four come back on the other node (recovery from another node's history reads).
    client?.bounce(beat % 2 === 0 ? 'terminate' : 'close', 100 + Math.random() * 900, beat % 4 !== 0);
  }, 1000 / perSecond);
  return null;
}

function take(): TakeResult {
  let reconnects = 0;
  let subscribed = 0;
  for (const client of clients) {
    reconnects += client.reconnects;
    client.reconnects = 0;
    if (client.subscribed) subscribed += 1;
  }
  const result: TakeResult = {
    ...tally,
    lag: histogram.export(),
    reconnects,
    unexpectedCloses: counters.unexpectedCloses,
    errors: counters.errors,
    errorSamples,
    subscribed,
    clients: clients.length,
  };
  Object.assign(tally, emptyTally());
  histogram = new LatencyHistogram();
  counters = { reconnects: 0, unexpectedCloses: 0, errors: 0 };
  errorSamples = [];
  return result;
}

/** Stops the churn and waits until every client is back and has its channel's last publication. */
async function finish(request: FinishRequest): Promise<FinishResult> {
  churn(0);
  const deadline = Date.now() + request.waitMs;
  const caughtUp = (client: SoakClient) => {
    const final = request.final[client.channel];
    const position = client.position;
    if (final === undefined) return client.subscribed;
    return client.subscribed && position?.epoch === final.epoch && position.offset === final.offset;
  };
  while (Date.now() < deadline && !clients.every(caughtUp)) await sleep(100);
  let behind = 0;
  let shortfall = 0;
  const samples: string[] = [];
  for (const client of clients.filter((c) => !caughtUp(c))) {
    const final = request.final[client.channel];
    const position = client.position;
    if (final === undefined || !client.subscribed) continue;
    behind += 1;
    if (position?.epoch === final.epoch) shortfall += Math.max(0, final.offset - position.offset);
    if (samples.length < SAMPLES)
      samples.push(
        `${client.channel}: at ${JSON.stringify(position)}, last acknowledged ${JSON.stringify(final)}`,
      );
  }
  return { notSubscribed: clients.filter((c) => !c.subscribed).length, behind, shortfall, samples };
}

serveRequests({
  open: (request) => open(request as OpenRequest),
  churn: (perSecond) => churn(perSecond as number),
  take,
  finish: (request) => finish(request as FinishRequest),
  close: () => {
    churn(0);
    for (const client of clients) client.stop();
    clients = [];
    return null;
  },
});
