/**
 * The servers of a soak: one real `redis-server` on a free loopback port (test/helpers/redis.ts) and
 * Herald nodes as separate `node bin/herald.js serve` processes sharing it (bench's
 * {@link HeraldProcess}: killed with this process whatever happens). Each node is started with bench's
 * memory-probe preload, so that the soak can force a full garbage collection in it and read its heap
 * without the garbage that a collection would have removed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryProbe } from '../../bench/lib/memory-probe.ts';
import { HeraldProcess, tempDir } from '../../bench/lib/processes.ts';
import { freePort } from '../../test/helpers/free-port.ts';
import { ensureRedisServer, startRedis, type RedisServer } from '../../test/helpers/redis.ts';
import { parseMetrics } from './prometheus.ts';

/** The namespace of the soak's channels: enough history that every reconnect recovers. */
export const NAMESPACE = 'soak';
/** Publications kept per channel: minutes of a channel's traffic, far more than a reconnect misses. */
const HISTORY_SIZE = 300;
const SCRAPE_TIMEOUT_MS = 4_000;

/** One node's figures from `/metrics`. */
export interface NodeSample {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** V8 heap committed (all spaces), and its old and code spaces. */
  readonly heapTotalMb: number;
  readonly oldSpaceTotalMb: number;
  readonly codeSpaceTotalMb: number;
  readonly externalMb: number;
  /** Event-loop delay over the last scrape interval (prom-client resets its histogram per scrape), ms. */
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly cpuSeconds: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly openFds: number;
  readonly delivered: number;
}

/** A post-GC reading: heap from the preload, RSS from /proc right after. */
export interface GcReading {
  readonly heapMb: number;
  readonly rssMb: number;
}

export interface SoakNode {
  readonly name: string;
  readonly process: HeraldProcess;
  readonly probe: MemoryProbe;
}

const MB = 2 ** 20;

export class SoakFleet {
  readonly redis: RedisServer;
  readonly redisVersion: string;
  readonly nodes: readonly SoakNode[];
  readonly apiKey: string;
  readonly secret: string;
  readonly #dir: { path: string; remove(): void };

  private constructor(
    redis: RedisServer,
    redisVersion: string,
    nodes: readonly SoakNode[],
    secrets: { apiKey: string; secret: string; dir: { path: string; remove(): void } },
  ) {
    this.redis = redis;
    this.redisVersion = redisVersion;
    this.nodes = nodes;
    this.apiKey = secrets.apiKey;
    this.secret = secrets.secret;
    this.#dir = secrets.dir;
  }

  static async start(count: number): Promise<SoakFleet> {
    const redisVersion = await ensureRedisServer();
    const redis = await startRedis();
    const dir = tempDir('herald-soak-');
    const apiKey = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const config = join(dir.path, 'herald.config.json');
    const namespaces = { [NAMESPACE]: { historySize: HISTORY_SIZE, historyTtl: '10m' } };
    writeFileSync(config, JSON.stringify({ namespaces }));
    const prefix = `soak-${randomBytes(4).toString('hex')}:`;
    const nodes: SoakNode[] = [];
    try {
      for (let index = 0; index < count; index++) {
        const probe = new MemoryProbe();
        const name = `node-${index}`;
        const herald = await HeraldProcess.start({
          name,
          port: await freePort(),
          args: [...probe.nodeFlags, 'bin/herald.js', 'serve'],
          env: {
            HERALD_CONFIG: config,
            HERALD_API_KEY: apiKey,
            HERALD_TOKEN_SECRET: secret,
            HERALD_LOG_LEVEL: 'warn',
            HERALD_NODE_NAME: name,
            HERALD_REDIS_URL: redis.url,
            HERALD_REDIS_PREFIX: prefix,
          },
        });
        nodes.push({ name, process: herald, probe });
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.process.stop()));
      await redis.stop();
      dir.remove();
      throw error;
    }
    return new SoakFleet(redis, redisVersion, nodes, { apiKey, secret, dir });
  }

  /** Base URLs of the nodes (`http://127.0.0.1:<port>`). */
  get urls(): string[] {
    return this.nodes.map((node) => node.process.url);
  }

  /** Scrapes `/metrics` of node `index`. */
  async sample(index: number): Promise<NodeSample> {
    const node = this.#node(index);
    const response = await fetch(`${node.process.url}/metrics`, {
      signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`${node.name}: /metrics answered ${response.status}`);
    const values = parseMetrics(await response.text());
    const value = (name: string) => values.get(name) ?? Number.NaN;
    return {
      rssMb: value('process_resident_memory_bytes') / MB,
      heapUsedMb: value('nodejs_heap_size_used_bytes') / MB,
      heapTotalMb: value('nodejs_heap_size_total_bytes') / MB,
      oldSpaceTotalMb: value('nodejs_heap_space_size_total_bytes{space="old"}') / MB,
      codeSpaceTotalMb: value('nodejs_heap_space_size_total_bytes{space="code"}') / MB,
      externalMb: value('nodejs_external_memory_bytes') / MB,
      loopP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
      loopMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
      cpuSeconds: value('process_cpu_seconds_total'),
      connections: value('herald_connections'),
      subscriptions: value('herald_subscriptions'),
      openFds: value('process_open_fds'),
      delivered: value('herald_publications_delivered_total'),
    };
  }

  /** Forces a full garbage collection in node `index` and reads its heap and RSS right after. */
  async collect(index: number): Promise<GcReading> {
    const node = this.#node(index);
    const pid = node.process.pid;
    if (pid === undefined) throw new Error(`${node.name} is not running`);
    const { heapUsed } = await node.probe.collect(pid);
    return { heapMb: heapUsed / MB, rssMb: residentBytes(pid) / MB };
  }

  /** Redis's `used_memory`, MB (NaN when it does not answer). */
  async redisUsedMb(): Promise<number> {
    try {
      const info = await this.redis.command('INFO', 'memory');
      const match = /used_memory:(\d+)/.exec(info);
      return match === null ? Number.NaN : Number(match[1]) / MB;
    } catch {
      return Number.NaN;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.stop()));
    for (const node of this.nodes) node.probe.remove();
    await this.redis.stop();
    this.#dir.remove();
  }

  #node(index: number): SoakNode {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`no node ${index}`);
    return node;
  }
}

/** Resident set size of `pid` from /proc (NaN where /proc is missing). */
function residentBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}
