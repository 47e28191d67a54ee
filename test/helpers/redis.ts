/**
 * Starts real `redis-server` processes (standalone or a Cluster) on free loopback ports for tests, and stops
 * them. Never uses port 6379, never reads a config file: a system Redis service cannot interfere.
 *
 * Cleanup is layered so no test run leaves a server behind: `stop()` in the test; an `exit` handler that
 * SIGKILLs whatever still runs; and a watchdog shell that does the same when this process dies without
 * running exit handlers (vitest ends its fork workers with SIGTERM).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, isErrno, releasePort, tryLockFile } from './free-port.ts';

const HOST = '127.0.0.1';
const OUTPUT_LINES = 50;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const SLOTS = 16_384;

/** One redis-server process owned by the test that started it. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, with `:<password>@` before the host when a password is set. */
  readonly url: string;
  /** Its data directory (AOF, RDB, nodes.conf); removed by `stop()`. */
  readonly dir: string;
  /** The process id while it runs, otherwise undefined. */
  readonly pid: number | undefined;
  /** The last ~50 lines the server printed, for diagnostics. */
  output(): string;
  /** Sends one command (authenticating first when a password is set); the reply as {@link redisCommand}. */
  command(...args: string[]): Promise<string>;
  /** SIGTERM, waits for the exit, removes the data directory and frees the port. Final; idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and waits for the exit; keeps the port and directory so `restart()` can bring it back. */
  kill(): Promise<void>;
  /** Stops it if it runs (SIGTERM), then starts it again on the same port and directory. */
  restart(): Promise<void>;
}

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * Keep an append-only file, fsynced on every write (`appendfsync always`) so that every acknowledged write
   * survives `kill()` + `restart()`. Default false: no persistence at all (`--save ''`, no AOF).
   */
  appendonly?: boolean;
  /** Require this password (`requirepass`). Default: none. */
  password?: string;
  /** More `redis-server` arguments (e.g. `--tls-port`); the plain port stays open for the helper's own use. */
  args?: readonly string[];
}

/** A Redis Cluster of local processes. */
export interface RedisCluster {
  /** Masters first (in slot order), then the replicas of master 0, of master 1, and so on. */
  readonly nodes: readonly RedisServer[];
  /** `127.0.0.1:<port>` of every node, e.g. for `HERALD_REDIS_CLUSTER_NODES`. */
  readonly seeds: readonly string[];
  /** Stops every node. */
  stop(): Promise<void>;
  /** The node serving `slotOrKey` as master now, as the cluster reports it (follows failovers). */
  masterFor(slotOrKey: number | string): Promise<RedisServer>;
}

/** Options for {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Masters, each serving an equal share of the 16384 slots. Default 3. */
  masters?: number;
  /** Replicas of each master. Default 0. */
  replicasPerMaster?: number;
}

/** A server failed to start; `output` holds its last lines. */
export class RedisStartError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}\n--- redis-server output (last lines) ---\n${output}`);
    this.name = 'RedisStartError';
  }

  /** Whether it failed because another process took its port first (worth a retry on another port). */
  get addressInUse(): boolean {
    return this.output.includes('Address already in use');
  }
}

let uniqueCounter = 0;

/** A key prefix no other test (in any worker) uses: `t<pid>-<n>-<random>:`. */
export function uniquePrefix(): string {
  uniqueCounter += 1;
  return `t${process.pid}-${uniqueCounter}-${Math.random().toString(36).slice(2, 8)}:`;
}

/** Starts a standalone redis-server on a free loopback port with an empty data directory. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  await ensureRedisServer();
  const extra = options.appendonly === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : [];
  return launch([...extra, ...(options.args ?? [])], false, options.password);
}

/**
 * Starts `masters × (1 + replicasPerMaster)` cluster-enabled servers and joins them into one cluster (with
 * CLUSTER ADDSLOTSRANGE / MEET / REPLICATE, so redis-cli is not needed). Resolves once every node reports
 * `cluster_state:ok`, sees all slots served and all nodes known, and every replica is in sync.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  if (!Number.isInteger(masters) || masters < 1 || masters > SLOTS) throw new RangeError('bad masters');
  if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError('bad replicasPerMaster');
  await ensureRedisServer();
  const clusterArgs = [
    ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
    ...['--cluster-node-timeout', '2000', '--cluster-announce-ip', HOST],
  ];
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicas) }, () => launch(clusterArgs, true, undefined)),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }
  try {
    await formCluster(nodes, masters, replicas);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    nodes,
    seeds: nodes.map((node) => `${HOST}:${node.port}`),
    stop: stopAll,
    masterFor: (slotOrKey) =>
      masterFor(nodes, typeof slotOrKey === 'number' ? slotOrKey : keySlot(slotOrKey)),
  };
}

/** The Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo 16384. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

// ---- processes ----

/** Every redis-server we started that has not exited yet, and every directory not yet removed. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A shell that outlives this process: it reads `pid N` / `unpid N` / `dir PATH` lines and, when its stdin
 * closes (this process died, however), SIGKILLs the pids still listed and removes the directories.
 */
const WATCHDOG = `trap '' INT TERM HUP
pids=''; dirs=''
while read -r kind arg; do
  case "$kind" in
    pid) pids="$pids $arg" ;;
    unpid) keep=''; for p in $pids; do [ "$p" = "$arg" ] || keep="$keep $p"; done; pids=$keep ;;
    dir) dirs="$dirs
$arg" ;;
  esac
done
[ -z "$pids" ] || kill -9 $pids 2>/dev/null
printf '%s\\n' "$dirs" | while IFS= read -r d; do [ -z "$d" ] || rm -rf -- "$d"; done
`;
let watchdog: ChildProcess | undefined;

function tellWatchdog(line: string): void {
  if (watchdog === undefined) {
    watchdog = spawn('sh', ['-c', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    watchdog.stdin?.on('error', () => undefined);
    if (watchdog.stdin instanceof Socket) watchdog.stdin.unref();
  }
  watchdog.stdin?.write(`${line}\n`);
}

/** Starts one server on a fresh port and directory, retrying when another process takes the port first. */
async function launch(
  extraArgs: string[],
  cluster: boolean,
  password: string | undefined,
): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort({ withBusPort: cluster });
    const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
    dirs.add(dir);
    tellWatchdog(`dir ${dir}`);
    const args = [
      ...['--port', String(port), '--bind', HOST, '--protected-mode', 'no', '--dir', dir],
      ...['--daemonize', 'no', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'],
      // Replicas sync at once instead of after the default 5 s wait for more replicas.
      ...['--repl-diskless-sync-delay', '0'],
      ...(password === undefined ? [] : ['--requirepass', password]),
      ...extraArgs,
    ];
    const server = new RedisProcess(port, dir, args, password);
    try {
      await server.start();
      return server;
    } catch (error) {
      await server.stop();
      if (!(error instanceof RedisStartError && error.addressInUse) || attempt >= 5) throw error;
    }
  }
}

class RedisProcess implements RedisServer {
  readonly host = HOST;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly #args: readonly string[];
  readonly #password: string | undefined;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output: string[] = [];
  #stopped = false;

  constructor(port: number, dir: string, args: readonly string[], password: string | undefined) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
    this.#password = password;
    const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
    this.url = `redis://${auth}${HOST}:${port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  output(): string {
    return this.#output.join('\n');
  }

  async command(...args: string[]): Promise<string> {
    const commands = this.#password === undefined ? [args] : [['AUTH', this.#password], args];
    const replies = await exchange(this.port, commands);
    for (const reply of replies) if (reply instanceof RedisReplyError) throw reply;
    return formatReply(replies[replies.length - 1] ?? null);
  }

  async start(): Promise<void> {
    if (this.#stopped) throw new Error(`redis-server on port ${this.port} was stopped for good`);
    if (this.#child !== undefined) return;
    const child = spawn('redis-server', this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    live.add(child);
    if (child.pid !== undefined) tellWatchdog(`pid ${child.pid}`);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on('line', (line) => this.#remember(line));
    }
    let exitReason: string | undefined;
    this.#exited = new Promise((resolve) => {
      const onGone = (reason: string) => {
        if (exitReason !== undefined) return;
        exitReason = reason;
        live.delete(child);
        if (child.pid !== undefined) tellWatchdog(`unpid ${child.pid}`);
        if (this.#child === child) this.#child = undefined;
        resolve();
      };
      child.once('exit', (code, signal) => onGone(`exited (code ${code}, signal ${signal})`));
      child.once('error', (error) => onGone(`failed to run: ${error.message}`));
    });
    await this.#waitReady(child, () => exitReason);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#signal('SIGTERM');
    if (!dirs.delete(this.dir)) return;
    rmSync(this.dir, { recursive: true, force: true });
    releasePort(this.port);
  }

  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.#signal('SIGTERM');
    await this.start();
  }

  #remember(line: string): void {
    this.#output.push(line);
    if (this.#output.length > OUTPUT_LINES) this.#output.shift();
  }

  /** Sends `signal` and waits for the exit; escalates to SIGKILL after {@link STOP_TIMEOUT_MS}. */
  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.#exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await this.#exited;
    }
  }

  /**
   * Ready means PING answers PONG (so the data set is loaded) and INFO names our pid — not another server
   * that won a race for the port while ours failed to bind it.
   */
  async #waitReady(child: ChildProcess, exitReason: () => string | undefined): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const probe = [['PING'], ['INFO', 'server']];
    const commands = this.#password === undefined ? probe : [['AUTH', this.#password], ...probe];
    let last: string;
    for (;;) {
      const reason = exitReason();
      if (reason !== undefined) {
        await new Promise((resolve) => setImmediate(resolve)); // let the last output lines arrive
        throw new RedisStartError(`redis-server on port ${this.port} ${reason}`, this.output());
      }
      try {
        const replies = await exchange(this.port, commands, 1_000);
        const [pong, info] = replies.slice(-2);
        if (pong === 'PONG' && typeof info === 'string' && info.includes(`process_id:${child.pid}\r\n`))
          return;
        last = replies.map((reply) => formatReply(reply)).join(' | ');
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await this.#exited;
        throw new RedisStartError(`redis-server on port ${this.port} not ready: ${last}`, this.output());
      }
      await sleep(10);
    }
  }
}

// ---- cluster ----

async function formCluster(nodes: readonly RedisServer[], masters: number, replicas: number): Promise<void> {
  // Distinct config epochs up front spare the cluster its epoch-collision round (as redis-cli does).
  await Promise.all(nodes.map((node, i) => node.command('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1))));
  await Promise.all(
    nodes.slice(0, masters).map((node, i) => {
      const first = Math.floor((i * SLOTS) / masters);
      const last = Math.floor(((i + 1) * SLOTS) / masters) - 1;
      return node.command('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
    }),
  );
  const ids = await Promise.all(nodes.map((node) => node.command('CLUSTER', 'MYID')));
  const [first, ...others] = nodes;
  if (first === undefined) return;
  await Promise.all(others.map((node) => first.command('CLUSTER', 'MEET', HOST, String(node.port))));
  await waitUntil(async () => {
    for (const node of nodes) {
      const known = parseNodes(await node.command('CLUSTER', 'NODES')).filter(
        (n) => !n.flags.has('handshake'),
      );
      if (known.length < nodes.length) return `${node.port} knows ${known.length}/${nodes.length} nodes`;
    }
    return undefined;
  }, 'nodes to meet');
  await Promise.all(
    nodes.slice(masters).map((node, i) => {
      const masterId = ids[Math.floor(i / replicas)] ?? '';
      return node.command('CLUSTER', 'REPLICATE', masterId);
    }),
  );
  await waitUntil(async () => {
    for (const [i, node] of nodes.entries()) {
      const problem = await clusterProblem(node, nodes.length, masters, masters * replicas, i >= masters);
      if (problem !== undefined) return `${HOST}:${node.port}: ${problem}`;
    }
    return undefined;
  }, 'cluster_state:ok on every node');
}

/** What keeps `node` from seeing the whole cluster healthy, or undefined when nothing does. */
async function clusterProblem(
  node: RedisServer,
  total: number,
  masters: number,
  replicas: number,
  isReplica: boolean,
): Promise<string | undefined> {
  const info = parseInfo(await node.command('CLUSTER', 'INFO'));
  const expected: Record<string, string> = {
    cluster_state: 'ok',
    cluster_slots_assigned: String(SLOTS),
    cluster_slots_ok: String(SLOTS),
    cluster_known_nodes: String(total),
    cluster_size: String(masters),
  };
  for (const [field, value] of Object.entries(expected)) {
    if (info.get(field) !== value) return `${field}:${info.get(field) ?? '?'} (want ${value})`;
  }
  const seen = parseNodes(await node.command('CLUSTER', 'NODES'));
  const bad = seen.find((n) => ['fail', 'fail?', 'handshake', 'noaddr'].some((flag) => n.flags.has(flag)));
  if (bad !== undefined) return `sees ${bad.address} as ${[...bad.flags].join(',')}`;
  const seenReplicas = seen.filter((n) => n.flags.has('slave')).length;
  if (seenReplicas !== replicas) return `sees ${seenReplicas}/${replicas} replicas`;
  if (isReplica) {
    const link = parseInfo(await node.command('INFO', 'replication')).get('master_link_status');
    if (link !== 'up') return `master_link_status:${link ?? '?'}`;
  }
  return undefined;
}

async function masterFor(nodes: readonly RedisServer[], slot: number): Promise<RedisServer> {
  let lastError: unknown = new Error('no node is running');
  for (const node of nodes) {
    if (node.pid === undefined) continue;
    try {
      const [slots] = await exchange(node.port, [['CLUSTER', 'SLOTS']]);
      if (slots instanceof RedisReplyError) throw slots;
      const port = Array.isArray(slots) ? masterPort(slots, slot) : undefined;
      const master = nodes.find((candidate) => candidate.port === port);
      if (master !== undefined) return master;
      lastError = new Error(`no master for slot ${slot} in CLUSTER SLOTS of ${HOST}:${node.port}`);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Options for {@link migrateSlot}. */
export interface MigrateSlotOptions {
  /** Keys moved per MIGRATE command. Default 100. */
  batch?: number;
  /**
   * Keep the slot IMPORTING on the target and MIGRATING on the source this long after its keys moved, ms:
   * commands on the slot are then redirected to the target with ASK, where one naming several keys fails
   * with TRYAGAIN unless all of them exist. Default 0.
   */
  holdMigratingMs?: number;
}

/**
 * Moves `slot`, with its keys, from its current master to `target` (a master of `cluster`), the way
 * `redis-cli --cluster reshard` does: CLUSTER SETSLOT IMPORTING on the target and MIGRATING on the source,
 * MIGRATE of the keys in batches, then SETSLOT NODE on the target, the source and every other master.
 * Resolves once every running node of the cluster reports `target` as the slot's master; does nothing when
 * `target` serves the slot already. While it runs, commands on the slot's existing keys are still served by
 * the source; a command naming several keys, some already moved, fails with TRYAGAIN. The target announces
 * its ownership over the cluster bus at once, so the source gives the slot up within milliseconds of the
 * target's SETSLOT NODE (even before it is told), and sends SUNSUBSCRIBE to the clients subscribed to the
 * slot's sharded channels on it.
 */
export async function migrateSlot(
  cluster: RedisCluster,
  slot: number,
  target: RedisServer,
  options: MigrateSlotOptions = {},
): Promise<void> {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`bad slot ${slot}`);
  const batch = options.batch ?? 100;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError('bad batch');
  if (!cluster.nodes.includes(target))
    throw new Error(`${HOST}:${target.port} is not a node of this cluster`);
  const role = (await target.command('ROLE')).split('\n')[0];
  if (role !== 'master') throw new Error(`${HOST}:${target.port} is a ${role ?? '?'}, not a master`);
  const source = await cluster.masterFor(slot);
  if (source === target) return;
  const s = String(slot);
  const [sourceId, targetId] = await Promise.all([
    source.command('CLUSTER', 'MYID'),
    target.command('CLUSTER', 'MYID'),
  ]);
  await target.command('CLUSTER', 'SETSLOT', s, 'IMPORTING', sourceId);
  await source.command('CLUSTER', 'SETSLOT', s, 'MIGRATING', targetId);
  for (;;) {
    const [keys] = await exchange(source.port, [['CLUSTER', 'GETKEYSINSLOT', s, String(batch)]]);
    if (keys instanceof RedisReplyError) throw keys;
    if (!Array.isArray(keys) || keys.length === 0) break;
    const names = keys.map((key) => String(key));
    await source.command('MIGRATE', HOST, String(target.port), '', '0', '10000', 'KEYS', ...names);
  }
  await sleep(options.holdMigratingMs ?? 0);
  // The target first, so that the slot is never without an owner (as redis-cli does it); the source's
  // SETSLOT refuses while it still holds keys of the slot.
  await target.command('CLUSTER', 'SETSLOT', s, 'NODE', targetId);
  await source.command('CLUSTER', 'SETSLOT', s, 'NODE', targetId);
  const others = await runningMasters(cluster.nodes);
  await Promise.all(
    others
      .filter((node) => node !== source && node !== target)
      .map((node) => node.command('CLUSTER', 'SETSLOT', s, 'NODE', targetId)),
  );
  await waitUntil(async () => {
    for (const node of cluster.nodes) {
      if (node.pid === undefined) continue;
      const [slots] = await exchange(node.port, [['CLUSTER', 'SLOTS']]);
      const port = Array.isArray(slots) ? masterPort(slots, slot) : undefined;
      if (port !== target.port) return `${HOST}:${node.port} sees slot ${slot} on ${port ?? 'no node'}`;
    }
    return undefined;
  }, `every node to see slot ${slot} on ${HOST}:${target.port}`);
}

/** The running nodes that are masters now (by ROLE). */
async function runningMasters(nodes: readonly RedisServer[]): Promise<RedisServer[]> {
  const running = nodes.filter((node) => node.pid !== undefined);
  const roles = await Promise.all(
    running.map((node) =>
      node.command('ROLE').then(
        (role) => role.split('\n')[0],
        () => undefined,
      ),
    ),
  );
  return running.filter((_node, i) => roles[i] === 'master');
}

/** The master's port for `slot` in a CLUSTER SLOTS reply: `[[start, end, [ip, port, id, ...], ...], ...]`. */
function masterPort(ranges: RespValue[], slot: number): number | undefined {
  for (const range of ranges) {
    if (!Array.isArray(range)) continue;
    const [start, end, master] = range;
    if (typeof start !== 'number' || typeof end !== 'number' || slot < start || slot > end) continue;
    if (Array.isArray(master) && typeof master[1] === 'number') return master[1];
  }
  return undefined;
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** CLUSTER NODES lines: `<id> <ip:port@cport> <flags> ...`. */
function parseNodes(text: string): { address: string; flags: Set<string> }[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, address = '', flags = ''] = line.split(' ');
      return { address, flags: new Set(flags.split(',')) };
    });
}

/** Polls `problem` every 50 ms until it returns undefined; fails with its last answer after 30 s. */
async function waitUntil(problem: () => Promise<string | undefined>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let current: string | undefined;
    try {
      current = await problem();
    } catch (error) {
      current = error instanceof Error ? error.message : String(error);
    }
    if (current === undefined) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${current}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- RESP ----

/** A decoded RESP2 reply: simple or bulk string, integer, nil, error, or array. */
export type RespValue = string | number | null | RedisReplyError | RespValue[];

/** An error reply (`-ERR ...`) from Redis. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

/**
 * Sends one command to `127.0.0.1:port` over a fresh connection and returns the reply as text, as
 * `redis-cli --raw` prints it: strings as they are, integers in decimal, nil as '', array items one per
 * line. Rejects with {@link RedisReplyError} on an error reply.
 */
export async function redisCommand(port: number, ...args: string[]): Promise<string> {
  const [reply = null] = await exchange(port, [args]);
  if (reply instanceof RedisReplyError) throw reply;
  return formatReply(reply);
}

function formatReply(reply: RespValue): string {
  if (reply === null) return '';
  if (Array.isArray(reply)) return reply.map(formatReply).join('\n');
  if (reply instanceof RedisReplyError) return reply.message;
  return String(reply);
}

/** Pipelines `commands` on one connection and returns their replies (error replies as values). */
function exchange(port: number, commands: string[][], timeoutMs = 30_000): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    const replies: RespValue[] = [];
    let buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no reply from ${HOST}:${port} in ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('close', () => fail(new Error(`${HOST}:${port} closed the connection before replying`)));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (let parsed = parseReply(buffer, 0); parsed !== undefined; parsed = parseReply(buffer, 0)) {
          replies.push(parsed.value);
          buffer = buffer.subarray(parsed.next);
        }
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (replies.length >= commands.length) {
        resolve(replies);
        socket.destroy();
      }
    });
    socket.write(commands.map(encodeCommand).join(''));
  });
}

function encodeCommand(args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** Parses one reply at `pos`; undefined when `buffer` does not hold all of it yet. */
function parseReply(buffer: Buffer, pos: number): { value: RespValue; next: number } | undefined {
  const end = buffer.indexOf('\r\n', pos);
  if (end === -1) return undefined;
  const line = buffer.toString('utf8', pos + 1, end);
  switch (buffer[pos]) {
    case 0x2b: // +
      return { value: line, next: end + 2 };
    case 0x2d: // -
      return { value: new RedisReplyError(line), next: end + 2 };
    case 0x3a: // :
      return { value: Number(line), next: end + 2 };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, next: end + 2 };
      if (buffer.length < end + 2 + length + 2) return undefined;
      return { value: buffer.toString('utf8', end + 2, end + 2 + length), next: end + 2 + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, next: end + 2 };
      const items: RespValue[] = [];
      let next = end + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(buffer.toString('utf8', pos, end))}`);
  }
}

// ---- the redis-server binary ----

const MIN_MAJOR = 7;
const INSTALL_HINT =
  `Herald's Redis tests start their own redis-server processes and need Redis ${MIN_MAJOR} or later ` +
  '(sharded pub/sub). Install it with: apt-get install redis-server';
const INSTALL_LOCK = join(tmpdir(), 'herald-redis-server-install.lock');
let binaryCheck: Promise<string> | undefined;

/**
 * Resolves to the version of `redis-server` on PATH once it is there and new enough. When it is missing, and
 * this process runs as root where apt-get exists, installs Debian's package first — once per machine: a lock
 * file in os.tmpdir() makes parallel workers wait for the one that installs. Otherwise rejects with what to
 * install. Checked once per process.
 */
export function ensureRedisServer(): Promise<string> {
  binaryCheck ??= findOrInstall();
  return binaryCheck;
}

/** The `x.y.z` in `redis-server --version` output; throws unless it is at least 7. */
export function checkRedisVersion(versionOutput: string): string {
  const match = /\bv=(\d+)\.(\d+)\.(\d+)/.exec(versionOutput);
  if (match === null)
    throw new Error(`cannot read the version in ${JSON.stringify(versionOutput)}. ${INSTALL_HINT}`);
  const version = `${match[1]}.${match[2]}.${match[3]}`;
  if (Number(match[1]) < MIN_MAJOR) throw new Error(`redis-server ${version} is too old. ${INSTALL_HINT}`);
  return version;
}

async function findOrInstall(): Promise<string> {
  const found = await installedVersion();
  if (found !== undefined) return checkRedisVersion(found);
  const obstacle = await installObstacle();
  if (obstacle !== undefined) throw new Error(`redis-server is not on PATH. ${INSTALL_HINT} (${obstacle}).`);
  await installOnce();
  const installed = await installedVersion();
  if (installed === undefined)
    throw new Error(`redis-server is still not on PATH after apt-get. ${INSTALL_HINT}`);
  return checkRedisVersion(installed);
}

/** `redis-server --version` output, or undefined when there is no redis-server. */
function installedVersion(): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile('redis-server', ['--version'], (error, stdout) => {
      if (error === null) resolve(stdout);
      else if (isErrno(error, 'ENOENT')) resolve(undefined);
      else reject(new Error(`redis-server --version failed: ${error.message}. ${INSTALL_HINT}`));
    });
  });
}

/** Why this process cannot install the package itself, or undefined when it can. */
async function installObstacle(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'automatic installation needs root';
  const aptGet = await run('apt-get', ['--version']).then(
    () => true,
    () => false,
  );
  return aptGet ? undefined : 'automatic installation needs apt-get';
}

/** Runs apt-get under the machine-wide lock, unless another worker is doing (or did) it. */
async function installOnce(): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  let waited = false;
  while (!tryLockFile(INSTALL_LOCK)) {
    waited = true;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${INSTALL_LOCK}. ${INSTALL_HINT}`);
    await sleep(500);
  }
  try {
    // Whoever held the lock before us ran apt-get (or died trying: the next test run tries again).
    if (waited || (await installedVersion()) !== undefined) return;
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update'], env);
    await run('apt-get', ['install', '-y', 'redis-server'], env);
  } finally {
    rmSync(INSTALL_LOCK, { force: true });
  }
}

/** Runs a command to completion; rejects with its last output lines unless it exits with 0. */
function run(command: string, args: string[], env = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const lines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        if (lines.length > OUTPUT_LINES) lines.shift();
      });
    }
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${[command, ...args].join(' ')} failed (${code}):\n${lines.join('\n')}\n${INSTALL_HINT}`,
          ),
        );
    });
  });
}
