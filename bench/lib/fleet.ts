/**
 * Subscribers spread over several load processes (`bench/load/subscriber-process.ts`), each process
 * connecting from its own loopback source addresses (127.0.0.2, 127.0.0.3, …) so that tens of
 * thousands of connections neither exhaust one address's ephemeral ports nor one process's open files.
 */
import type { OpenRequest, OpenResult, TakeResult } from '../load/subscriber-process.ts';
import { LatencyHistogram } from './histogram.ts';
import { LoadProcess } from './load-process.ts';
import { processCpuSeconds } from './processes.ts';
import type { RunningSystem } from './systems.ts';

export interface FleetOptions {
  /** Node (index into the system's nodes) the subscribers connect to. */
  readonly node: number;
  /** One channel per connection. */
  readonly channels: readonly string[];
  readonly processes: number;
  /** Probe connections (reading send times) per process. */
  readonly probes: number;
  /** Connections each process opens at once. */
  readonly concurrency?: number;
}

/** What the fleet saw since the previous {@link SubscriberFleet.take}. */
export interface FleetSample {
  readonly delivered: number;
  readonly latency: LatencyHistogram;
  readonly lost: number;
  readonly lostReasons: readonly string[];
  readonly open: number;
}

/** Source addresses per load process: ~20k connections each fit in one address's port range. */
const ADDRESSES_PER_PROCESS = 2;

export class SubscriberFleet {
  readonly #processes: LoadProcess[];
  readonly size: number;
  /** Milliseconds it took to open every connection. */
  readonly openMs: number;

  private constructor(processes: LoadProcess[], size: number, openMs: number) {
    this.#processes = processes;
    this.size = size;
    this.openMs = openMs;
  }

  static async open(system: RunningSystem, options: FleetOptions): Promise<SubscriberFleet> {
    const count = Math.min(options.processes, options.channels.length);
    const processes = Array.from(
      { length: count },
      (_, i) => new LoadProcess(`subscribers-${i + 1}`, 'bench/load/subscriber-process.ts'),
    );
    const url = (system.nodeUrls[options.node] ?? '').replace(/^http/, 'ws');
    const started = performance.now();
    try {
      const results = await Promise.all(
        processes.map((process, i) => {
          const request: OpenRequest = {
            protocol: system.protocol,
            url,
            token: system.token,
            channels: options.channels.filter((_, index) => index % count === i),
            probes: options.probes,
            localAddresses: Array.from(
              { length: ADDRESSES_PER_PROCESS },
              (_, k) => `127.0.0.${2 + i * ADDRESSES_PER_PROCESS + k}`,
            ),
            concurrency: options.concurrency ?? 64,
          };
          return process.call<OpenResult>('open', request, 300_000);
        }),
      );
      const failed = results.reduce((sum, result) => sum + result.failed, 0);
      if (failed > 0) {
        const first = results.find((result) => result.firstError !== undefined)?.firstError;
        throw new Error(`${failed} of ${options.channels.length} subscribers could not connect: ${first}`);
      }
      return new SubscriberFleet(processes, options.channels.length, performance.now() - started);
    } catch (error) {
      await Promise.all(processes.map((process) => process.stop()));
      throw error;
    }
  }

  /** Counts and latencies since the previous call, from every process. */
  async take(): Promise<FleetSample> {
    const results = await Promise.all(this.#processes.map((process) => process.call<TakeResult>('take')));
    const latency = new LatencyHistogram();
    for (const result of results) latency.merge(result.latency);
    return {
      delivered: results.reduce((sum, result) => sum + result.delivered, 0),
      latency,
      lost: results.reduce((sum, result) => sum + result.lost, 0),
      lostReasons: results.flatMap((result) => result.lostReasons).slice(0, 5),
      open: results.reduce((sum, result) => sum + result.open, 0),
    };
  }

  /** Waits until nothing has arrived for `quietMs` (the servers drained what they had), at most `timeoutMs`. */
  async settle(quietMs = 500, timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      if ((await this.take()).delivered === 0) return true;
    }
    return false;
  }

  /** CPU seconds used by the load processes so far. */
  cpuSeconds(): number {
    return this.#processes.reduce((sum, process) => sum + (processCpuSeconds(process.pid) ?? 0), 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#processes.map((process) => process.stop()));
  }
}
