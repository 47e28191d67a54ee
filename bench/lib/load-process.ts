/**
 * Load generators in their own processes, driven over IPC: the benchmark process sends a request
 * (`{id, op, args}`) and awaits the answer (`{id, ok, result | error}`). Each child exits when the
 * benchmark process goes away, and is killed when it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit, REPO_ROOT } from './processes.ts';

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: unknown;
}

type Answer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The benchmark's side: one load process running `script` (a .ts file under bench/). */
export class LoadProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #nextId = 0;
  #exited = false;

  constructor(name: string, script: string, env: Readonly<Record<string, string>> = {}) {
    this.name = name;
    this.#child = spawn(process.execPath, ['bin/run-ts.js', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    killOnExit(this.#child);
    this.#child.on('message', (message: Answer) => {
      const waiter = this.#waiting.get(message.id);
      if (waiter === undefined) return;
      this.#waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${name}: ${message.error}`));
    });
    this.#child.once('exit', (code, signal) => {
      this.#exited = true;
      for (const waiter of this.#waiting.values())
        waiter.reject(new Error(`${name} exited (${signal ?? `code ${code}`})`));
      this.#waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.#exited ? undefined : this.#child.pid;
  }

  /** Runs `op` in the child; rejects if it fails, the child dies, or no answer comes within `timeoutMs`. */
  call<T>(op: string, args: unknown = null, timeoutMs = 120_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${this.name}: ${op} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.send({ id, op, args } satisfies Request);
    });
  }

  /** Ends the child (SIGKILL: a load process holds nothing worth a clean stop). */
  stop(): Promise<void> {
    if (this.#exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.kill('SIGKILL');
    });
  }
}

/** The child's side: answers requests with `handlers[op](args)` until the parent goes away. */
export function serveRequests(handlers: Record<string, (args: unknown) => unknown>): void {
  if (process.send === undefined) throw new Error('a load process must be started by the benchmark (IPC)');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (request: Request) => {
    const handler = handlers[request.op];
    const reply = (answer: Answer) => process.send?.(answer);
    if (handler === undefined) return reply({ id: request.id, ok: false, error: `unknown op ${request.op}` });
    Promise.resolve()
      .then(() => handler(request.args))
      .then(
        (result) => reply({ id: request.id, ok: true, result: result ?? null }),
        (error: unknown) =>
          reply({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
}
