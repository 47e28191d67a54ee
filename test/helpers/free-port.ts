/**
 * Finds free loopback TCP ports for test servers and reserves them across the test workers of one machine.
 *
 * Ports come from below the kernel's ephemeral range (usually 10000–32767) rather than from binding port 0:
 * an ephemeral port can be taken at any moment as the source port of an outgoing connection, and an outage
 * test that kills a server and restarts it on the same port would then fail to bind. Each port is checked by
 * binding it, and reserved with a lock file in os.tmpdir() so two vitest workers never pick the same one.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Redis Cluster listens for its bus on the client port + 10000. */
export const CLUSTER_BUS_OFFSET = 10_000;

/** Options for {@link freePort}. */
export interface FreePortOptions {
  /** Also require (and reserve) `port + 10000`, the Redis Cluster bus port. Default false. */
  withBusPort?: boolean;
}

const RESERVATIONS = join(tmpdir(), 'herald-test-ports');
/** Never hand out the default Redis ports, where a system service may listen. */
const AVOID = new Set([6379, 6379 + CLUSTER_BUS_OFFSET]);
const reserved = new Set<number>();

process.on('exit', () => {
  for (const port of reserved) rmSync(join(RESERVATIONS, String(port)), { force: true });
});

/** Returns a port free on 127.0.0.1 now, reserved for this process until {@link releasePort}. */
export async function freePort(options: FreePortOptions = {}): Promise<number> {
  const offset = options.withBusPort === true ? CLUSTER_BUS_OFFSET : 0;
  const [low, high] = candidateRange(offset);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    const ports = offset === 0 ? [port] : [port, port + offset];
    if (ports.some((p) => AVOID.has(p) || reserved.has(p))) continue;
    if (!reserveAll(ports)) continue;
    if ((await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean)) return port;
    for (const p of ports) release(p);
  }
  throw new Error(`no free loopback port found in ${low}-${high - 1}`);
}

/** Gives back a port from {@link freePort} (and its bus port, if it was reserved with one). */
export function releasePort(port: number): void {
  release(port);
  if (reserved.has(port + CLUSTER_BUS_OFFSET)) release(port + CLUSTER_BUS_OFFSET);
}

/** Whether a TCP server can listen on `host:port` right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Ports [low, high) below the ephemeral range, leaving room for `offset`. */
function candidateRange(offset: number): [number, number] {
  let ephemeralLow = 32_768;
  try {
    const text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const first = Number(text.trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) ephemeralLow = first;
  } catch {
    // Not Linux: keep the IANA default.
  }
  const high = Math.min(ephemeralLow, 65_536) - offset;
  const low = 10_000;
  if (high - low < 1_000) return [20_000, 65_536 - offset];
  return [low, high];
}

function reserveAll(ports: number[]): boolean {
  const taken: number[] = [];
  for (const port of ports) {
    if (!reserve(port)) {
      for (const p of taken) release(p);
      return false;
    }
    taken.push(port);
  }
  return true;
}

function reserve(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  if (!tryLockFile(join(RESERVATIONS, String(port)))) return false;
  reserved.add(port);
  return true;
}

function release(port: number): void {
  if (!reserved.delete(port)) return;
  rmSync(join(RESERVATIONS, String(port)), { force: true });
}

/**
 * Creates `file` exclusively with this process's pid in it; takes it over when the process named in it is
 * gone. Returns false when another live process holds it.
 */
export function tryLockFile(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if (!isErrno(error, 'EEXIST') || isLockOwnerAlive(file)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

/** Whether the process whose pid `file` holds still runs (true while the file is being written). */
function isLockOwnerAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8'));
  } catch {
    return existsSync(file);
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

/** Whether `error` is a Node system error with the given code. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}
