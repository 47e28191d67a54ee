/**
 * A fleet for chaos scenarios: real `herald serve` processes on loopback (bench's {@link HeraldProcess}:
 * killed with this process whatever happens), sharing one Redis, behind the test TCP balancer, with SDK
 * subscribers that connect through the balancer and a checking publisher that publishes through it.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '../../src/auth/tokens.ts';
import { HeraldProcess, tempDir } from '../../bench/lib/processes.ts';
import { CheckingPublisher } from '../../test/helpers/checking-publisher.ts';
import { freePort } from '../../test/helpers/free-port.ts';
import { waitFor } from '../../test/helpers/herald.ts';
import { SdkCheckingSubscriber } from '../../test/helpers/sdk-checking-subscriber.ts';
import { startTcpBalancer, type TcpBalancer } from '../../test/helpers/tcp-balancer.ts';

/** The namespace of every chaos channel: history long enough to recover anything a fault holds back. */
export const NAMESPACE = 'chaos';

export interface FleetOptions {
  /** How many nodes. Default 3. */
  readonly nodes?: number;
  /** The Redis URL of each node, by index (e.g. one through a stalling proxy). */
  readonly redisUrl: (index: number) => string;
  /** `HERALD_DRAIN_PERIOD`. Default `0` (close at once on SIGTERM). */
  readonly drainPeriod?: string;
  /** More HERALD_* variables for every node. */
  readonly env?: Readonly<Record<string, string>>;
}

/** See the file comment. */
export class Fleet {
  readonly nodes: (HeraldProcess | undefined)[];
  readonly balancer: TcpBalancer;
  readonly apiKey: string;
  readonly #secret: string;
  readonly #ports: readonly number[];
  readonly #env: (index: number) => Record<string, string>;
  readonly #dir: { path: string; remove(): void };

  private constructor(
    ports: readonly number[],
    balancer: TcpBalancer,
    env: (index: number) => Record<string, string>,
    secrets: { apiKey: string; secret: string; dir: { path: string; remove(): void } },
  ) {
    this.#ports = ports;
    this.balancer = balancer;
    this.#env = env;
    this.apiKey = secrets.apiKey;
    this.#secret = secrets.secret;
    this.#dir = secrets.dir;
    this.nodes = ports.map(() => undefined);
  }

  static async start(options: FleetOptions): Promise<Fleet> {
    const count = options.nodes ?? 3;
    const dir = tempDir('herald-chaos-');
    const config = join(dir.path, 'herald.config.json');
    const namespaces = { [NAMESPACE]: { historySize: 20_000, historyTtl: '10m' } };
    writeFileSync(config, JSON.stringify({ namespaces }));
    const apiKey = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const prefix = `chaos-${randomBytes(4).toString('hex')}:`;
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    const env = (index: number) => ({
      HERALD_CONFIG: config,
      HERALD_API_KEY: apiKey,
      HERALD_TOKEN_SECRET: secret,
      HERALD_LOG_LEVEL: 'error',
      HERALD_NODE_NAME: `node-${index}`,
      HERALD_REDIS_URL: options.redisUrl(index),
      HERALD_REDIS_PREFIX: prefix,
      HERALD_DRAIN_PERIOD: options.drainPeriod ?? '0',
      ...options.env,
    });
    const balancer = await startTcpBalancer(ports.map((port) => ({ host: '127.0.0.1', port })));
    const fleet = new Fleet(ports, balancer, env, { apiKey, secret, dir });
    try {
      await Promise.all(ports.map((_, index) => fleet.startNode(index)));
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  /** `ws://` URL of the balancer's client endpoint. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.balancer.port}/connection/websocket`;
  }

  /** `http://` URL of the balancer, for the server API. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.balancer.port}`;
  }

  /** Starts node `index` (again) on its port; resolves once it is ready. */
  async startNode(index: number): Promise<void> {
    const port = this.#ports[index] ?? 0;
    this.nodes[index] = await HeraldProcess.start({ name: `node-${index}`, port, env: this.#env(index) });
  }

  /** `kill -9` of node `index`; resolves once the process is gone. */
  async killNode(index: number): Promise<void> {
    const node = this.nodes[index];
    if (node?.pid === undefined) return;
    process.kill(node.pid, 'SIGKILL');
    await waitFor(() => node.pid === undefined, 5_000, `node-${index} to die`);
  }

  /** SIGTERM to node `index` (it drains); resolves once it exited. */
  async drainNode(index: number): Promise<void> {
    await this.nodes[index]?.stop();
  }

  /** A client token for `user`. */
  token(user: string): Promise<string> {
    return mintToken(this.#secret, { user });
  }

  /**
   * `count` SDK subscribers through the balancer, each on `perSubscriber` of `channels` (rotating, so
   * every channel has subscribers), started a batch at a time.
   */
  async subscribers(
    channels: readonly string[],
    count: number,
    perSubscriber: number,
  ): Promise<SdkCheckingSubscriber[]> {
    const all: SdkCheckingSubscriber[] = [];
    for (let first = 0; first < count; first += 20) {
      const batch = Array.from({ length: Math.min(20, count - first) }, (_, k) => {
        const i = first + k;
        const mine = Array.from(
          { length: Math.min(perSubscriber, channels.length) },
          (_, j) => channels[(i + j) % channels.length] as string,
        );
        return SdkCheckingSubscriber.start(
          { url: this.wsUrl, channels: mine, getToken: () => this.token(`user-${i}`), name: `sub-${i}` },
          20_000,
        );
      });
      all.push(...(await Promise.all(batch)));
    }
    return all;
  }

  /** A checking publisher through the balancer, one loop per channel. */
  publisher(channels: readonly string[], intervalMs: number): CheckingPublisher {
    return CheckingPublisher.start({ apiUrls: [this.apiUrl], apiKey: this.apiKey, channels, intervalMs });
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node?.stop()));
    await this.balancer.close();
    this.#dir.remove();
  }
}

/** `count` channel names of the chaos namespace, unique to this run. */
export function chaosChannels(count: number): string[] {
  const run = randomBytes(3).toString('hex');
  return Array.from({ length: count }, (_, i) => `${NAMESPACE}:${run}-${i}`);
}
