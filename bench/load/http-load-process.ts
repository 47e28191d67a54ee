/**
 * An HTTP load process for the `publish-api` scenario: runs autocannon (closed loop, a fixed number of
 * kept-alive connections, no pipelining) against one URL for the benchmark process, which drives it
 * over IPC (`bench/lib/load-process.ts`). Request bodies are prepared up front and sent in turn by
 * every connection, so the load costs autocannon nothing per request beyond sending and reading.
 *
 * Every answer's body is looked at (autocannon reads them anyway) to keep the first failure for the
 * report. Latency is recorded from autocannon's `response` events (sub-millisecond times) into the suite's
 * histogram, rather than from autocannon's own, which keeps whole milliseconds.
 */
import { createRequire } from 'node:module';
import { LatencyHistogram, type HistogramData } from '../lib/histogram.ts';
import { serveRequests } from '../lib/load-process.ts';

export interface HttpLoadRun {
  /** Full URL, path included. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Request bodies (JSON text), sent in turn. */
  readonly bodies: readonly string[];
  readonly connections: number;
  readonly seconds: number;
  /** Count a 2xx answer whose body mentions `"error"` as a failure (a batch endpoint answers 200 with per-publication errors). */
  readonly checkBody: boolean;
}

export interface HttpLoadReport {
  /** 2xx answers (without an error in the body, when checked). */
  readonly ok: number;
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  /** 2xx answers with an error in the body. */
  readonly bodyErrors: number;
  /** Answers by status code. */
  readonly statusCodes: Readonly<Record<string, number>>;
  /** The status and start of the body of the first failed answer. */
  readonly firstFailure?: string;
  /** The measured duration, seconds. */
  readonly seconds: number;
  /** Round trip of 2xx answers. */
  readonly latency: HistogramData;
}

/** The part of autocannon's API this file uses (the package has no type declarations). */
interface AutocannonOptions {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  requests: { body: string; onResponse: (status: number, body: string) => void }[];
  connections: number;
  pipelining: 1;
  duration: number;
  timeout: number;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

type Autocannon = (
  options: AutocannonOptions,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** An answer not received within this is counted as a timeout (autocannon's option, seconds). */
const TIMEOUT_S = 10;

function run(options: HttpLoadRun): Promise<HttpLoadReport> {
  const latency = new LatencyHistogram();
  let bodyErrors = 0;
  let firstFailure: string | undefined;
  const onResponse = (status: number, body: string) => {
    const ok = status >= 200 && status < 300;
    if (ok && !(options.checkBody && body.includes('"error"'))) return;
    if (ok) bodyErrors += 1;
    firstFailure ??= `${status} ${body.slice(0, 300)}`;
  };
  return new Promise((resolve, reject) => {
    const settings: AutocannonOptions = {
      url: options.url,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      requests: options.bodies.map((body) => ({ body, onResponse })),
      connections: options.connections,
      pipelining: 1,
      duration: options.seconds,
      timeout: TIMEOUT_S,
    };
    const instance = autocannon(settings, (error, result) => {
      if (error !== null) return reject(error);
      const statusCodes = Object.fromEntries(
        Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
      );
      const twoHundreds = Object.entries(statusCodes)
        .filter(([code]) => code.startsWith('2'))
        .reduce((sum, [, count]) => sum + count, 0);
      resolve({
        ok: twoHundreds - bodyErrors,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        bodyErrors,
        statusCodes,
        ...(firstFailure === undefined ? {} : { firstFailure }),
        seconds: result.duration,
        latency: latency.export(),
      });
    });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latency.record(ms);
    });
  });
}

serveRequests({ run: (options) => run(options as HttpLoadRun) });
