/** Starts and watches the fuzzed Herald process (server-process.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const HEAP_TIMEOUT_MS = 10_000;
/** Error-level log lines kept for the report. */
const KEPT_LOG_LINES = 20;

export interface HeapSample {
  readonly heapUsed: number;
  readonly rss: number;
}

export class FuzzServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly maxFrameBytes: number;
  /** Error-level log lines the server wrote (the first few), and how many in all. */
  readonly errorLogs: string[] = [];
  errorLogCount = 0;
  /** Set when the process exited before `stop()`: a crash. */
  crash: { code: number | null; signal: string | null; stderr: string } | undefined;
  readonly #child: ChildProcess;
  #stopping = false;
  #stderr = '';

  private constructor(child: ChildProcess, port: number, maxFrameBytes: number) {
    this.#child = child;
    this.port = port;
    this.maxFrameBytes = maxFrameBytes;
    this.url = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}/connection/websocket`;
    child.stdout?.setEncoding('utf8');
    let partial = '';
    child.stdout?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        this.errorLogCount++;
        if (this.errorLogs.length < KEPT_LOG_LINES) this.errorLogs.push(line.slice(0, 2000));
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-8000);
    });
    child.on('exit', (code, signal) => {
      if (!this.#stopping) this.crash = { code, signal, stderr: this.#stderr };
    });
  }

  /** Starts the server on the memory engine, or on the Redis at `redisUrl`. */
  static async start(maxFrameBytes: number, redisUrl?: string): Promise<FuzzServer> {
    const child = fork(SCRIPT, [], {
      cwd: REPO_ROOT,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      env: {
        ...process.env,
        FUZZ_MAX_FRAME_BYTES: String(maxFrameBytes),
        ...(redisUrl === undefined ? {} : { FUZZ_REDIS_URL: redisUrl }),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
    try {
      const ready = new Promise<number>((resolve, reject) => {
        child.on('message', (message: { type?: string; port?: number }) => {
          if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port);
        });
        child.once('exit', (code) => reject(new Error(`fuzz server exited (${code}) at start: ${stderr}`)));
      });
      return new FuzzServer(child, await ready, maxFrameBytes);
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return this.crash === undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The server's heap after a forced full garbage collection. */
  async heap(): Promise<HeapSample> {
    if (!this.alive) throw new Error('the fuzz server is not running');
    const answer = new Promise<HeapSample>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no heap answer')), HEAP_TIMEOUT_MS);
      const listener = (message: { type?: string; heapUsed?: number; rss?: number; gc?: boolean }) => {
        if (message.type !== 'heap') return;
        clearTimeout(timer);
        this.#child.off('message', listener);
        if (message.gc !== true) reject(new Error('the fuzz server runs without --expose-gc'));
        else resolve({ heapUsed: message.heapUsed ?? 0, rss: message.rss ?? 0 });
      };
      this.#child.on('message', listener);
    });
    this.#child.send({ type: 'heap' });
    return answer;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.#stopping = true;
    const exited = once(this.#child, 'exit');
    this.#child.send({ type: 'stop' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
