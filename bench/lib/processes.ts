/**
 * Child processes and temporary directories of a benchmark run, and making sure none outlives it:
 * every child is SIGKILLed and every directory removed when this process exits (normally, on an error,
 * or on SIGINT/SIGTERM via {@link exitOnSignals}). Herald nodes also get an IPC channel and a preloaded
 * one-liner that ends them when the channel closes, so they stop even if this process is SIGKILLed
 * (the Redis helper has its own watchdog for redis-server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The repository root, where `bin/herald.js` lives. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Kills `child` when this process exits, whatever the reason. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** A new directory under the system's temporary directory, removed by the returned function or at exit. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(path);
  return {
    path,
    remove() {
      dirs.delete(path);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Exits (running the exit handlers above) on SIGINT/SIGTERM, so an interrupted run leaves nothing. */
export function exitOnSignals(log: (line: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every process this run started`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/**
 * Ends the child when its parent's IPC channel closes, i.e. when the benchmark process is gone: SIGTERM
 * for a clean stop, and exit 5 s later in case the stop hangs (Redis may be gone by then too).
 */
const EXIT_WITH_PARENT =
  'data:text/javascript,process.on("disconnect",()=>{process.kill(process.pid,"SIGTERM");' +
  'setTimeout(()=>process.exit(1),5000).unref()});process.channel?.unref()';

const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LINES = 40;

export interface HeraldProcessOptions {
  /** Shown in front of its log lines, e.g. `node-a`. */
  readonly name: string;
  readonly port: number;
  /** HERALD_* variables (HERALD_PORT and HERALD_HOST are set from `port`); inherited ones are dropped. */
  readonly env: Readonly<Record<string, string>>;
  /** How long to wait for `/readyz`. */
  readonly readyTimeoutMs?: number;
  /**
   * What to run instead of `bin/herald.js serve`, e.g. a peer server (`['bin/run-ts.js',
   * 'bench/peers/ws-server.ts']`); it gets `PORT` and must answer `GET /readyz`.
   */
  readonly args?: readonly string[];
}

/** One server process: `node bin/herald.js serve`, or a peer server for comparison. */
export class HeraldProcess {
  readonly name: string;
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #output: string[] = [];
  #stopping = false;

  private constructor(options: HeraldProcessOptions) {
    this.name = options.name;
    this.url = `http://127.0.0.1:${options.port}`;
    const args = options.args ?? ['bin/herald.js', 'serve'];
    this.#child = spawn(process.execPath, [...profileFlags(), '--import', EXIT_WITH_PARENT, ...args], {
      cwd: REPO_ROOT,
      env: {
        ...withoutHeraldVariables(process.env),
        ...options.env,
        HERALD_HOST: '127.0.0.1',
        HERALD_PORT: String(options.port),
        PORT: String(options.port),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    live.add(this.#child);
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        live.delete(this.#child);
        if (!this.#stopping)
          console.error(`[${this.name}] exited unexpectedly (${signal ?? `code ${code}`})\n${this.output()}`);
        resolve();
      });
    });
    this.#child.once('error', (error) => console.error(`[${this.name}] ${error.message}`));
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.#output.push(line);
        if (this.#output.length > OUTPUT_LINES) this.#output.shift();
        // Warnings and errors only (HERALD_LOG_LEVEL=warn): worth seeing while the benchmark runs.
        console.error(`[${this.name}] ${line}`);
      });
    }
  }

  /** Starts a node and resolves once `/readyz` answers 200 (Redis reachable). */
  static async start(options: HeraldProcessOptions): Promise<HeraldProcess> {
    const node = new HeraldProcess(options);
    try {
      await node.#waitReady(options.readyTimeoutMs ?? 20_000);
      return node;
    } catch (error) {
      await node.stop();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.#child.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  /** Its last log lines. */
  output(): string {
    return this.#output.join('\n');
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.pid === undefined) return this.#exited;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pid === undefined) throw new Error(`${this.name} exited before it was ready`);
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms\n${this.output()}`);
  }
}

/**
 * `BENCH_PROFILE=<dir>`: every server process writes a V8 CPU profile (`.cpuprofile`, open it in
 * Chrome DevTools or speedscope) to `dir` when it stops; `bench/tools/profile-summary.ts` sums it.
 */
function profileFlags(): string[] {
  const dir = process.env['BENCH_PROFILE'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** The environment minus HERALD_* variables, so the caller's shell cannot change what is measured. */
function withoutHeraldVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('HERALD_')));
}

/**
 * CPU time a process has used so far (user + system, all threads), in seconds, from /proc; undefined
 * where /proc is missing. Assumes the usual 100 clock ticks per second.
 */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Watches this process's event-loop delay from now until the returned function is called, which gives
 * its p99 and maximum in milliseconds. A load generator that is late itself inflates the latencies it
 * measures; this says by how much it could have.
 */
export function watchLoopDelay(): () => { p99: number; max: number } {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  return () => {
    histogram.disable();
    return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
  };
}
