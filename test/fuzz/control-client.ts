/**
 * The control client of the protocol fuzzer: on a connection of its own, it publishes to a channel it
 * subscribes to every 200 ms and checks that each publication comes back within 3 s, so a server
 * that stays up but stops serving well-behaved clients is caught.
 */
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { CONTROL_CHANNEL } from './scenario.ts';
import type { Violations } from './tally.ts';

const CONTROL_INTERVAL_MS = 200;
const CONTROL_TIMEOUT_MS = 3_000;

export interface ControlStats {
  roundTrips: number;
  failures: number;
  maxLatencyMs: number;
}

/** Publishes on its own connection every 200 ms and checks each publication comes back. */
export class ControlClient {
  readonly #client: ProtocolClient;
  readonly #stats: ControlStats;
  readonly #violations: Violations;
  readonly #waiting = new Map<number, (n: number) => void>();
  #running = true;
  readonly #loop: Promise<void>;

  private constructor(client: ProtocolClient, stats: ControlStats, violations: Violations) {
    this.#client = client;
    this.#stats = stats;
    this.#violations = violations;
    client.onPublication((channel, publication) => {
      const n = (publication.data as { n?: unknown } | null)?.n;
      if (channel === CONTROL_CHANNEL && typeof n === 'number') this.#waiting.get(n)?.(n);
    });
    this.#loop = this.#run();
  }

  /** Connects with `token`, subscribes and starts the round trips, counted in `stats`. */
  static async start(
    wsUrl: string,
    token: string,
    stats: ControlStats,
    violations: Violations,
  ): Promise<ControlClient> {
    const client = await ProtocolClient.open(wsUrl);
    await client.call('connect', { token, name: 'fuzz-control' });
    await client.call('subscribe', { channel: CONTROL_CHANNEL });
    return new ControlClient(client, stats, violations);
  }

  async #run(): Promise<void> {
    for (let n = 1; this.#running; n++) {
      const started = Date.now();
      const received = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), CONTROL_TIMEOUT_MS);
        this.#waiting.set(n, () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      const published = this.#client.call('publish', { channel: CONTROL_CHANNEL, data: { n } }).then(
        () => true,
        () => false,
      );
      const ok = (await published) && (await received);
      this.#waiting.delete(n);
      const control = this.#stats;
      if (ok) {
        control.roundTrips++;
        control.maxLatencyMs = Math.max(control.maxLatencyMs, Date.now() - started);
      } else {
        control.failures++;
        this.#violations.add('control failed', `control publication ${n} did not come back`);
      }
      await new Promise((resolve) => setTimeout(resolve, CONTROL_INTERVAL_MS));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#client.close();
    await this.#client.closed;
  }
}
