/**
 * The soak's publisher, a load process driven over IPC by soak/run.ts: `POST /api/publish` at a steady
 * rate, open loop (publication `n` is due at `start + n / rate` and never waits for earlier answers),
 * to the nodes in turn and the channels in turn. Each publication's data is ~100 bytes of JSON carrying
 * its due time (`t`, ms since the epoch) for the subscribers' delivery lag, and a sequence number (`n`).
 * It keeps, per channel, the acknowledged positions: the last one is what every subscriber of the
 * channel must reach, and the acknowledged offsets must be consecutive.
 */
import { Agent, request as httpRequest } from 'node:http';
import { LatencyHistogram, type HistogramData } from '../../bench/lib/histogram.ts';
import { serveRequests } from '../../bench/lib/load-process.ts';
import { nowMs } from '../../bench/lib/messages.ts';
import type { Position } from '../lib/stream-check.ts';

export interface PublishRequest {
  readonly urls: readonly string[];
  readonly apiKey: string;
  readonly channels: readonly string[];
  /** Publications per second. */
  readonly rate: number;
  /** Bytes of JSON data per publication. */
  readonly payloadBytes: number;
}

/** Counts since the previous `take`. */
export interface PublisherTake {
  readonly published: number;
  readonly failed: number;
  readonly firstError?: string;
  /** Publications not sent because too many requests were unanswered. */
  readonly skipped: number;
  readonly roundTrip: HistogramData;
}

export interface PublisherResult {
  /** The last acknowledged position of each channel. */
  readonly final: Record<string, Position>;
  readonly acknowledged: number;
  /** Channels whose acknowledged offsets were not consecutive, or changed epoch. */
  readonly problems: readonly string[];
}

interface ChannelAcks {
  epoch: string;
  first: number;
  last: number;
  count: number;
  epochChanges: number;
}

const MAX_IN_FLIGHT = 2_000;
const ANSWER_TIMEOUT_MS = 20_000;
const SOCKETS_PER_NODE = 16;

let stopRequested = false;
let loop: Promise<void> | undefined;
let inFlight = 0;
let counts = { published: 0, failed: 0, skipped: 0 };
let firstError: string | undefined;
let roundTrip = new LatencyHistogram();
const acks = new Map<string, ChannelAcks>();
let acknowledged = 0;

function record(channel: string, position: Position): void {
  acknowledged += 1;
  const channelAcks = acks.get(channel);
  if (channelAcks === undefined) {
    acks.set(channel, {
      epoch: position.epoch,
      first: position.offset,
      last: position.offset,
      count: 1,
      epochChanges: 0,
    });
    return;
  }
  if (channelAcks.epoch !== position.epoch) {
    channelAcks.epochChanges += 1;
    Object.assign(channelAcks, {
      epoch: position.epoch,
      first: position.offset,
      last: position.offset,
      count: 0,
    });
  }
  channelAcks.count += 1;
  channelAcks.first = Math.min(channelAcks.first, position.offset);
  channelAcks.last = Math.max(channelAcks.last, position.offset);
}

function start(options: PublishRequest): null {
  if (loop !== undefined) throw new Error('already publishing');
  const agents = options.urls.map(
    () => new Agent({ keepAlive: true, maxSockets: SOCKETS_PER_NODE, maxFreeSockets: SOCKETS_PER_NODE }),
  );
  const targets = options.urls.map((url) => new URL('/api/publish', url));
  let seq = 0;
  const send = (due: number) => {
    const n = seq++;
    const channel = options.channels[n % options.channels.length] ?? '';
    const head = `{"t":${due.toFixed(3)},"n":${n},"p":"`;
    const data = `${head}${'x'.repeat(Math.max(0, options.payloadBytes - head.length - 2))}"}`;
    const body = `{"channel":${JSON.stringify(channel)},"data":${data}}`;
    const node = n % targets.length;
    const sentAt = nowMs();
    inFlight += 1;
    const done = (answer: string | Error, status: number) => {
      inFlight -= 1;
      if (typeof answer === 'string' && status >= 200 && status < 300) {
        const position = JSON.parse(answer) as Position;
        counts.published += 1;
        roundTrip.record(nowMs() - sentAt);
        record(channel, position);
        return;
      }
      counts.failed += 1;
      firstError ??= (typeof answer === 'string' ? `${status} ${answer}` : answer.message).slice(0, 300);
    };
    const req = httpRequest(
      targets[node] as URL,
      {
        method: 'POST',
        agent: agents[node] as Agent,
        headers: {
          authorization: `apikey ${options.apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.on('end', () => done(answer, res.statusCode ?? 0));
        res.on('error', (error) => done(error, 0));
      },
    );
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error('no answer in time')));
    req.on('error', (error) => done(error, 0));
    req.end(body);
  };
  const interval = 1000 / options.rate;
  const begin = nowMs();
  let next = begin;
  loop = new Promise<void>((resolve) => {
    const tick = () => {
      if (stopRequested) return resolve();
      const now = nowMs();
      for (; next <= now; next += interval) {
        if (inFlight >= MAX_IN_FLIGHT) counts.skipped += 1;
        else send(next);
      }
      setTimeout(tick, Math.min(5, Math.max(0, next - nowMs())));
    };
    tick();
  }).then(async () => {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS + 1_000;
    while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const agent of agents) agent.destroy();
  });
  return null;
}

function take(): PublisherTake {
  const result = {
    ...counts,
    ...(firstError === undefined ? {} : { firstError }),
    roundTrip: roundTrip.export(),
  };
  counts = { published: 0, failed: 0, skipped: 0 };
  firstError = undefined;
  roundTrip = new LatencyHistogram();
  return result;
}

async function stop(): Promise<PublisherResult> {
  stopRequested = true;
  await loop;
  const final: Record<string, Position> = {};
  const problems: string[] = [];
  for (const [channel, channelAcks] of acks) {
    final[channel] = { offset: channelAcks.last, epoch: channelAcks.epoch };
    if (channelAcks.epochChanges > 0)
      problems.push(`${channel}: epoch changed ${channelAcks.epochChanges} times`);
    if (channelAcks.count !== channelAcks.last - channelAcks.first + 1)
      problems.push(
        `${channel}: ${channelAcks.count} acknowledgements for offsets ${channelAcks.first}..${channelAcks.last}`,
      );
  }
  return { final, acknowledged, problems: problems.slice(0, 20) };
}

serveRequests({
  start: (request) => start(request as PublishRequest),
  take,
  stop,
});
