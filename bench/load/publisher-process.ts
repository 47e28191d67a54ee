/**
 * A publisher load process: sends publications over HTTP at a fixed rate for a while, open loop
 * (request `n` is due at `start + n / rate` and never waits for earlier answers), so that a server
 * that falls behind shows it in latency rather than slowing the load down. Every publication's data
 * carries its due time (`"t"`, ms since the epoch) for the subscribers' latency figures.
 */
import { Agent, request as httpRequest } from 'node:http';
import { LatencyHistogram } from '../lib/histogram.ts';
import { serveRequests } from '../lib/load-process.ts';
import { nowMs } from '../lib/messages.ts';

export interface PublishRun {
  /** Base URL of the server to publish to. */
  readonly url: string;
  /** `herald`: `POST /api/publish` (batch 1) or `/api/publish/batch`; `peer`: `POST /publish`. */
  readonly api: 'herald' | 'peer';
  readonly apiKey: string;
  /** Requests per second. */
  readonly rate: number;
  /** Publications per request. */
  readonly batch: number;
  /** Channels, used round robin. */
  readonly channels: readonly string[];
  readonly payloadBytes: number;
  readonly seconds: number;
  /** Kept-alive connections to the server. */
  readonly sockets: number;
}

export interface PublishReport {
  readonly requests: number;
  /** Publications in requests answered 2xx. */
  readonly published: number;
  readonly failedRequests: number;
  readonly firstError?: string;
  /** Requests that could not be sent on time because too many were still unanswered. */
  readonly skipped: number;
  readonly seconds: number;
  readonly roundTrip: ReturnType<LatencyHistogram['export']>;
}

const MAX_IN_FLIGHT = 5_000;
const ANSWER_TIMEOUT_MS = 20_000;

async function run(options: PublishRun): Promise<PublishReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.sockets, maxFreeSockets: options.sockets });
  const single = options.api === 'herald' && options.batch === 1;
  const path = options.api === 'peer' ? '/publish' : single ? '/api/publish' : '/api/publish/batch';
  const target = new URL(path, options.url);
  const headers = {
    'content-type': 'application/json',
    ...(options.api === 'herald' ? { authorization: `apikey ${options.apiKey}` } : {}),
  };
  const roundTrip = new LatencyHistogram();
  let requests = 0;
  let published = 0;
  let failedRequests = 0;
  let skipped = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  let seq = 0;
  const padFor = (head: string) => 'x'.repeat(Math.max(0, options.payloadBytes - head.length - 2));
  let pad = '';
  const item = (due: string) => {
    const channel = options.channels[seq % options.channels.length] ?? '';
    const head = `{"t":${due},"s":${seq},"p":"`;
    if (pad === '') pad = padFor(head);
    seq += 1;
    return { channel, data: `${head}${pad}"}` };
  };
  const body = (due: number) => {
    const stamp = due.toFixed(3);
    if (single) {
      const { channel, data } = item(stamp);
      return `{"channel":${JSON.stringify(channel)},"data":${data}}`;
    }
    const parts: string[] = [];
    for (let i = 0; i < options.batch; i++) {
      const { channel, data } = item(stamp);
      parts.push(`{"channel":${JSON.stringify(channel)},"data":${data}}`);
    }
    return `{"publications":[${parts.join(',')}]}`;
  };
  let finished: () => void = () => undefined;
  const allAnswered = new Promise<void>((resolve) => (finished = resolve));
  let sending = true;
  const send = (due: number) => {
    const text = body(due);
    const sentAt = nowMs();
    inFlight += 1;
    requests += 1;
    const done = (ok: boolean, detail: string) => {
      inFlight -= 1;
      if (ok) {
        published += options.batch;
        roundTrip.record(nowMs() - sentAt);
      } else {
        failedRequests += 1;
        firstError ??= detail.slice(0, 300);
      }
      if (!sending && inFlight === 0) finished();
    };
    const req = httpRequest(
      target,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(text) } },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          done(status >= 200 && status < 300 && !answer.includes('"error"'), `${status} ${answer}`);
        });
        res.on('error', (error) => done(false, error.message));
      },
    );
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error('no answer in time')));
    req.on('error', (error) => done(false, error.message));
    req.end(text);
  };

  const start = nowMs();
  const end = start + options.seconds * 1000;
  const interval = 1000 / options.rate;
  let next = start;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMs();
      while (next <= now && next < end) {
        if (inFlight >= MAX_IN_FLIGHT) skipped += 1;
        else send(next);
        next += interval;
      }
      if (next >= end) return resolve();
      setTimeout(tick, Math.min(1, Math.max(0, next - nowMs())));
    };
    tick();
  });
  sending = false;
  if (inFlight > 0)
    await Promise.race([allAnswered, new Promise((resolve) => setTimeout(resolve, ANSWER_TIMEOUT_MS))]);
  agent.destroy();
  return {
    ...{ requests, published, failedRequests, skipped },
    ...(firstError === undefined ? {} : { firstError }),
    seconds: options.seconds,
    roundTrip: roundTrip.export(),
  };
}

serveRequests({ run: (options) => run(options as PublishRun) });
