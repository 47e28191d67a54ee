/**
 * The systems the suite compares, started as server processes on loopback: Herald, Socket.IO 4.8
 * (with `@socket.io/redis-adapter` when there is more than one node) and the raw `ws` ceiling in its
 * two forms. Each is reached the same way by the load processes: subscribers over WebSocket
 * (`bench/load/wire.ts`) and publishers over HTTP (`bench/load/publisher-process.ts`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '../../src/auth/tokens.ts';
import { freePort, releasePort } from '../../test/helpers/free-port.ts';
import {
  ensureRedisServer,
  startRedis,
  startRedisCluster,
  type RedisCluster,
  type RedisServer,
} from '../../test/helpers/redis.ts';
import type { WireProtocol } from '../load/wire.ts';
import { HeraldProcess, processCpuSeconds, REPO_ROOT, tempDir } from './processes.ts';

export type SystemName = 'herald' | 'socket.io' | 'ws-frame' | 'ws-batch';

/** Display names, for tables. */
export const SYSTEM_LABELS: Readonly<Record<SystemName, string>> = {
  herald: 'Herald',
  'socket.io': 'Socket.IO',
  'ws-frame': 'raw ws (1 msg/frame)',
  'ws-batch': 'raw ws (batched)',
};

export type Broker = 'none' | 'redis' | 'redis-cluster';

export interface SystemOptions {
  /** Server processes: subscribers go to the last, publishers to the first. */
  readonly nodes: number;
  /** What carries publications between nodes (and, for Herald, stores history). */
  readonly broker: Broker;
  /** Extra `node` flags for every server process (not Redis), e.g. a preload; default none. */
  readonly nodeFlags?: readonly string[];
}

export interface RunningSystem {
  readonly name: SystemName;
  readonly protocol: WireProtocol;
  readonly api: 'herald' | 'peer';
  /** HTTP base URL of each node. */
  readonly nodeUrls: readonly string[];
  readonly apiKey: string;
  /** A Herald connection token (empty for the others). */
  readonly token: string;
  /** A channel name this system accepts (Herald: in the `bench` namespace, which keeps history). */
  channel(name: string): string;
  /** CPU seconds used so far by each server process (and Redis), by name. */
  cpu(): Record<string, number | undefined>;
  /** Resident memory of node `index`, bytes. */
  rss(index: number): number | undefined;
  /** Process id of node `index` while it runs (e.g. to signal it). */
  pid(index: number): number | undefined;
  readonly versions: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** Whether a system can run on `broker` (the raw ws servers have no broker: one node only). */
export function supports(system: SystemName, options: SystemOptions): boolean {
  if (system === 'ws-frame' || system === 'ws-batch') return options.nodes === 1 && options.broker === 'none';
  return true;
}

const PEER_SCRIPTS: Readonly<Record<Exclude<SystemName, 'herald'>, readonly string[]>> = {
  'socket.io': ['bin/run-ts.js', 'bench/peers/socketio-server.ts'],
  'ws-frame': ['bin/run-ts.js', 'bench/peers/ws-server.ts'],
  'ws-batch': ['bin/run-ts.js', 'bench/peers/ws-server.ts'],
};

function packageVersion(name: string): string {
  const file = join(REPO_ROOT, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export async function startSystem(name: SystemName, options: SystemOptions): Promise<RunningSystem> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    return await start(name, options, cleanups, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function start(
  name: SystemName,
  options: SystemOptions,
  cleanups: (() => Promise<void> | void)[],
  stop: () => Promise<void>,
): Promise<RunningSystem> {
  if (!supports(name, options))
    throw new Error(`${name} cannot run on ${options.nodes} nodes / ${options.broker}`);
  const versions: Record<string, string> = {};
  let redis: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  if (options.broker !== 'none') {
    versions['redis'] = await ensureRedisServer();
    if (options.broker === 'redis') {
      const server = await startRedis();
      redis = server;
      cleanups.push(() => server.stop());
    } else {
      const started = await startRedisCluster({ masters: 3 });
      cluster = started;
      cleanups.push(() => started.stop());
    }
  }
  const apiKey = `bench-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const run = randomBytes(3).toString('hex');
  let env: (node: string) => Record<string, string>;
  let args: readonly string[] | undefined;
  if (name === 'herald') {
    if (options.nodeFlags !== undefined) args = [...options.nodeFlags, 'bin/herald.js', 'serve'];
    const dir = tempDir('herald-bench-');
    cleanups.push(() => dir.remove());
    // Pins the `bench` namespace (history of 100 for 10 minutes) and keeps a herald.config.json in
    // the working directory from changing what is measured.
    const config = join(dir.path, 'herald.config.json');
    writeFileSync(config, JSON.stringify({ namespaces: { bench: { historySize: 100, historyTtl: '10m' } } }));
    env = (node) => ({
      HERALD_CONFIG: config,
      HERALD_API_KEY: apiKey,
      HERALD_TOKEN_SECRET: secret,
      HERALD_LOG_LEVEL: 'warn',
      HERALD_NODE_NAME: node,
      ...(redis === undefined ? {} : { HERALD_REDIS_URL: redis.url, HERALD_REDIS_PREFIX: `bench-${run}:` }),
      ...(cluster === undefined
        ? {}
        : { HERALD_REDIS_CLUSTER_NODES: cluster.seeds.join(','), HERALD_REDIS_PREFIX: `bench-${run}:` }),
    });
  } else {
    args = [...(options.nodeFlags ?? []), ...PEER_SCRIPTS[name]];
    versions[name === 'socket.io' ? 'socket.io' : 'ws'] = packageVersion(
      name === 'socket.io' ? 'socket.io' : 'ws',
    );
    if (name === 'socket.io' && options.broker !== 'none')
      versions['@socket.io/redis-adapter'] = packageVersion('@socket.io/redis-adapter');
    env = () => ({
      MODE: name === 'ws-batch' ? 'batch' : 'frame',
      ...(redis === undefined ? {} : { REDIS_URL: redis.url }),
      ...(cluster === undefined ? {} : { REDIS_CLUSTER_NODES: cluster.seeds.slice(0, 3).join(',') }),
    });
  }
  const nodes: HeraldProcess[] = [];
  for (let i = 0; i < options.nodes; i++) {
    const port = await freePort();
    cleanups.push(() => releasePort(port));
    const node = await HeraldProcess.start({
      name: `${name}-${i + 1}`,
      port,
      env: env(`node-${i + 1}`),
      ...(args === undefined ? {} : { args }),
    });
    cleanups.push(() => node.stop());
    nodes.push(node);
  }
  const redisPids: [string, number | undefined][] =
    redis !== undefined
      ? [['redis', redis.pid]]
      : (cluster?.nodes.map((server, i) => [`redis-${i + 1}`, server.pid] as [string, number | undefined]) ??
        []);
  return {
    name,
    protocol: name === 'herald' ? 'herald' : name === 'socket.io' ? 'socketio' : 'ws',
    api: name === 'herald' ? 'herald' : 'peer',
    nodeUrls: nodes.map((node) => node.url),
    apiKey,
    token: name === 'herald' ? await mintToken(secret, { user: 'bench' }) : '',
    channel: (channel) => (name === 'herald' ? `bench:${channel}` : channel),
    cpu: () =>
      Object.fromEntries([
        ...nodes.map((node, i) => [`node-${i + 1}`, processCpuSeconds(node.pid)] as const),
        ...redisPids.map(([label, pid]) => [label, processCpuSeconds(pid)] as const),
      ]),
    rss: (index) => residentBytes(nodes[index]?.pid),
    pid: (index) => nodes[index]?.pid,
    versions,
    stop,
  };
}

/** A process's resident set size from /proc, in bytes. */
export function residentBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
