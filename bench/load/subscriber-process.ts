/**
 * A subscriber load process: holds many subscriber connections for the benchmark process, which
 * drives it over IPC (`bench/lib/load-process.ts`). Kept out of the benchmark's own process so that
 * load generation is spread over several processes, each under the per-process open-file limit.
 */
import { LatencyHistogram } from '../lib/histogram.ts';
import { serveRequests } from '../lib/load-process.ts';
import { WireSubscriber, type Sink, type SubscriberSpec, type WireProtocol } from './wire.ts';

export interface OpenRequest {
  readonly protocol: WireProtocol;
  readonly url: string;
  readonly token: string;
  /** One entry per connection: the channel it subscribes to. */
  readonly channels: readonly string[];
  /**
   * How many of the connections also read send times. They are spread evenly over the list, which
   * is roughly the order in which the server fans out, so that latency is sampled from the start,
   * middle and end of every fan-out rather than from the first sockets written to.
   */
  readonly probes: number;
  readonly localAddresses: readonly string[];
  /** Connections being opened at once. */
  readonly concurrency: number;
}

export interface OpenResult {
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
  /** Milliseconds from the first connection attempt to the last subscription confirmed. */
  readonly ms: number;
}

export interface TakeResult {
  readonly delivered: number;
  readonly latency: ReturnType<LatencyHistogram['export']>;
  readonly lost: number;
  readonly lostReasons: readonly string[];
  readonly open: number;
}

let subscribers: WireSubscriber[] = [];
let histogram = new LatencyHistogram();
let lost = 0;
const lostReasons: string[] = [];

const sink: Sink = {
  latency: (sentAt, now) => histogram.record(now - sentAt),
  lost: (reason) => {
    lost += 1;
    if (lostReasons.length < 5) lostReasons.push(reason);
  },
};

async function open(request: OpenRequest): Promise<OpenResult> {
  const started = performance.now();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const opened: WireSubscriber[] = [];
  const probeEvery = request.probes > 0 ? request.channels.length / request.probes : Infinity;
  const isProbe = (index: number) => Math.floor((index + 1) / probeEvery) > Math.floor(index / probeEvery);
  const worker = async () => {
    while (next < request.channels.length) {
      const index = next++;
      const spec: SubscriberSpec = {
        protocol: request.protocol,
        url: request.url,
        token: request.token,
        channel: request.channels[index] ?? '',
        localAddress: request.localAddresses[index % request.localAddresses.length] ?? '127.0.0.1',
        probe: isProbe(index),
      };
      try {
        opened.push(await WireSubscriber.open(spec, sink));
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
  subscribers.push(...opened);
  return {
    opened: opened.length,
    failed,
    ...(firstError === undefined ? {} : { firstError }),
    ms: performance.now() - started,
  };
}

function take(): TakeResult {
  let delivered = 0;
  let openCount = 0;
  for (const subscriber of subscribers) {
    delivered += subscriber.delivered;
    subscriber.delivered = 0;
    if (subscriber.open) openCount += 1;
  }
  const result = {
    delivered,
    latency: histogram.export(),
    lost,
    lostReasons: [...lostReasons],
    open: openCount,
  };
  histogram = new LatencyHistogram();
  lost = 0;
  lostReasons.length = 0;
  return result;
}

serveRequests({
  open: (request) => open(request as OpenRequest),
  take: () => take(),
  close: () => {
    for (const subscriber of subscribers) subscriber.close();
    subscribers = [];
    return null;
  },
});
