/** The cross-node scenario's processes: one redis-server and two Herald nodes, and reaching them. */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '../../src/auth/tokens.ts';
import { freePort, releasePort } from '../../test/helpers/free-port.ts';
import { ensureRedisServer, startRedis, type RedisServer } from '../../test/helpers/redis.ts';
import { HeraldProcess, processCpuSeconds, tempDir } from '../lib/processes.ts';
import { BenchSubscriber } from '../lib/ws-subscriber.ts';

/** Redis, two nodes, and what the load generator needs to reach them. */
export interface Topology {
  readonly redis: RedisServer;
  readonly redisVersion: string;
  readonly nodeA: HeraldProcess;
  readonly nodeB: HeraldProcess;
  readonly apiKey: string;
  readonly token: string;
  /** A fresh channel name in the `bench` namespace. */
  channel(purpose: string): string;
  /** Opens a subscriber of `channel` on node B. */
  subscribeOnB(channel: string): Promise<BenchSubscriber>;
  /** CPU seconds used so far by node A, node B, Redis and this process. */
  cpu(): CpuSample;
}

export type CpuSample = Readonly<Record<'nodeA' | 'nodeB' | 'redis' | 'load', number | undefined>>;

/** What every measured step reports besides its own figures: the cost of the load, and what went wrong. */
export interface StepHealth {
  readonly cpu: CpuSample;
  /** The load process's event-loop delay in the measured window, ms. */
  readonly loopDelay: { readonly p99: number; readonly max: number };
  readonly anomalies: readonly string[];
}

/** CPU use between two samples, in % of one core. */
export function cpuPercent(from: CpuSample, to: CpuSample, seconds: number): CpuSample {
  const share = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : Math.round(((b - a) / seconds) * 100);
  return {
    nodeA: share(from.nodeA, to.nodeA),
    nodeB: share(from.nodeB, to.nodeB),
    redis: share(from.redis, to.redis),
    load: share(from.load, to.load),
  };
}

/** Things to undo, last first, whatever happened. */
export type Cleanups = (() => Promise<void> | void)[];

/** Starts Redis and both nodes; pushes what must be stopped to `cleanups` as it goes. */
export async function startTopology(cleanups: Cleanups): Promise<Topology> {
  const redisVersion = await ensureRedisServer();
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const dir = tempDir('herald-bench-');
  cleanups.push(() => dir.remove());
  // Pins the `bench` namespace to the defaults (history of 100 for 10 minutes), and keeps a
  // herald.config.json in the working directory from changing what is measured.
  const config = join(dir.path, 'herald.config.json');
  writeFileSync(config, JSON.stringify({ namespaces: { bench: { historySize: 100, historyTtl: '10m' } } }));
  const apiKey = `bench-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const run = randomBytes(3).toString('hex');
  const env = (name: string) => ({
    HERALD_CONFIG: config,
    HERALD_REDIS_URL: redis.url,
    HERALD_REDIS_PREFIX: `bench-${run}:`,
    HERALD_API_KEY: apiKey,
    HERALD_TOKEN_SECRET: secret,
    HERALD_LOG_LEVEL: 'warn',
    HERALD_NODE_NAME: name,
  });
  const ports = [await freePort(), await freePort()] as const;
  cleanups.push(() => ports.forEach(releasePort));
  const started = await Promise.allSettled(
    (['node-a', 'node-b'] as const).map((name, i) =>
      HeraldProcess.start({ name, port: ports[i] ?? 0, env: env(name) }),
    ),
  );
  for (const result of started) if (result.status === 'fulfilled') cleanups.push(() => result.value.stop());
  const [a, b] = started;
  if (a?.status !== 'fulfilled') throw a?.reason;
  if (b?.status !== 'fulfilled') throw b?.reason;
  const nodeA = a.value;
  const nodeB = b.value;
  const token = await mintToken(secret, { user: 'bench' });
  const wsUrl = `${nodeB.url.replace(/^http/, 'ws')}/connection/websocket`;
  let channels = 0;
  return {
    redis,
    redisVersion,
    nodeA,
    nodeB,
    apiKey,
    token,
    channel: (purpose) => `bench:${purpose}-${run}-${++channels}`,
    subscribeOnB: (channel) => BenchSubscriber.open({ url: wsUrl, token, channel }),
    cpu: () => {
      const own = process.cpuUsage();
      return {
        nodeA: processCpuSeconds(nodeA.pid),
        nodeB: processCpuSeconds(nodeB.pid),
        redis: processCpuSeconds(redis.pid),
        load: (own.user + own.system) / 1e6,
      };
    },
  };
}

export function assertAlive(topology: Topology): void {
  for (const node of [topology.nodeA, topology.nodeB])
    if (node.pid === undefined) throw new Error(`${node.name} is gone\n${node.output()}`);
  if (topology.redis.pid === undefined) throw new Error('redis-server is gone');
}
