/**
 * The primary process of `herald serve --workers <n>`: forks n workers (node:cluster) that share one
 * listening port, restarts a worker that dies, prints the start banner once every worker listens, and
 * coordinates shutdown. It loads no server code and serves nothing itself.
 *
 * Workers are told apart by their index (1 to n), which also names them: node `<nodeName>-<index>`. A
 * restarted worker takes the index of the one it replaces.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { HeraldConfig } from '../../config/config.ts';
import { EXIT_FAILURE, type CliIo } from './io.ts';
import { RestartPolicy } from './restart-policy.ts';
import { printStartBanner } from './serve-start.ts';
import { isReadyMessage, workerEnv, type ReadyMessage } from './serve-worker-channel.ts';

/** Workers run the `herald` command like a person would, whatever started the primary (npm, npx, a test). */
const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));
/**
 * How long workers get after a signal, beyond the drain period, to finish closing before they are
 * killed: the last clients' commands under way (at most 5 s), requests under way (1 s), and closing
 * presence, the engine subscriptions and the engine connections (a few seconds when Redis is slow).
 */
export const SHUTDOWN_MARGIN_MS = 15_000;

/** How long workers get after a signal to drain and close before they are killed. */
export function shutdownTimeoutMs(config: Pick<HeraldConfig, 'drainPeriodMs'>): number {
  return config.drainPeriodMs + SHUTDOWN_MARGIN_MS;
}

/** One worker position, 1 to n, and whichever process fills it now. */
interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  /** When the current worker reported that it listens; undefined until then. */
  readyAt: number | undefined;
  restartTimer: NodeJS.Timeout | undefined;
}

export function runPrimary(config: HeraldConfig, io: CliIo): void {
  const logger = pino({
    level: config.logLevel,
    base: { pid: process.pid, node: config.nodeName, role: 'primary' },
  });
  const supervisor = new Supervisor(config, io, logger);
  io.onSignal((signal) => supervisor.onSignal(signal));
  supervisor.start();
}

class Supervisor {
  readonly #config: HeraldConfig;
  readonly #io: CliIo;
  readonly #logger: Logger;
  readonly #policy = new RestartPolicy();
  readonly #slots: Slot[];
  /** Whether the banner and the "all workers listening" line were printed (once per run). */
  #announced = false;
  /** Set when shutting down: the exit code to end with once every worker is gone. */
  #stopping: { code: number } | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(config: HeraldConfig, io: CliIo, logger: Logger) {
    this.#config = config;
    this.#io = io;
    this.#logger = logger;
    this.#slots = Array.from({ length: config.workers }, (_, i) => ({
      index: i + 1,
      worker: undefined,
      readyAt: undefined,
      restartTimer: undefined,
    }));
  }

  start(): void {
    // Workers take their configuration from the environment, so they need no flags of their own.
    cluster.setupPrimary({ exec: BIN, args: ['serve'] });
    this.#logger.info({ workers: this.#slots.length }, 'starting workers');
    for (const slot of this.#slots) this.#fork(slot);
  }

  /** The first signal stops the workers gracefully; a second one kills them and exits at once. */
  onSignal(signal: NodeJS.Signals): void {
    if (this.#stopping !== undefined) {
      this.#logger.warn({ signal }, 'second signal: killing the workers without waiting for shutdown');
      this.#killAll();
      this.#io.exit(EXIT_FAILURE);
      return;
    }
    this.#logger.info({ signal }, 'shutting down');
    this.#stop(0);
  }

  #fork(slot: Slot): void {
    slot.restartTimer = undefined;
    slot.readyAt = undefined;
    const config = { ...this.#config, nodeName: `${this.#config.nodeName}-${slot.index}` };
    const worker = cluster.fork(workerEnv({ index: slot.index, config }));
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (isReadyMessage(message)) this.#onReady(slot, worker, message);
    });
    worker.on('error', (err: Error) => this.#logger.error({ err, worker: slot.index }, 'worker error'));
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) =>
      this.#onExit(slot, worker, code, signal),
    );
  }

  #onReady(slot: Slot, worker: Worker, message: ReadyMessage): void {
    if (slot.worker !== worker || this.#stopping !== undefined) return;
    slot.readyAt = Date.now();
    if (this.#announced) {
      this.#logger.info({ worker: slot.index, workerPid: worker.process.pid }, 'worker restarted');
      return;
    }
    if (!this.#slots.every((each) => each.readyAt !== undefined)) return;
    this.#announced = true;
    const { url, port } = message;
    this.#logger.info({ url, port, workers: this.#slots.length }, 'all workers listening');
    printStartBanner(url, this.#config, this.#io).catch((err: unknown) =>
      this.#logger.error({ err }, 'could not print the start banner'),
    );
  }

  #onExit(slot: Slot, worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.worker !== worker) return;
    const listenedMs = slot.readyAt === undefined ? undefined : Date.now() - slot.readyAt;
    slot.worker = undefined;
    slot.readyAt = undefined;
    const details = { worker: slot.index, workerPid: worker.process.pid, code, signal };
    if (this.#stopping !== undefined) {
      // A signal is ours or the terminal's; an exit code other than 0 means its shutdown failed.
      if (code !== null && code !== 0) this.#stopping.code = EXIT_FAILURE;
      this.#logger.info(details, 'worker stopped');
      if (this.#live().length === 0) this.#finish();
      return;
    }
    const decision = this.#policy.onExit(slot.index, listenedMs);
    if (decision.action === 'restart') {
      this.#logger.error({ ...details, restartInMs: decision.delayMs }, 'worker died; restarting it');
      slot.restartTimer = setTimeout(() => this.#fork(slot), decision.delayMs);
      return;
    }
    const seconds = this.#policy.options.stableAfterMs / 1000;
    const last = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
    const problem = `worker ${slot.index} died ${decision.quickFailures} times in a row within ${seconds}s of starting (last: ${last}); giving up`;
    this.#logger.fatal(details, problem);
    this.#io.writeErr(`error: ${problem}. The worker's log above says why.\n`);
    this.#stop(EXIT_FAILURE);
  }

  /** Sends SIGTERM to every worker and exits with `code` once they are gone, killing them after a timeout. */
  #stop(code: number): void {
    this.#stopping = { code };
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    const live = this.#live();
    if (live.length === 0) return this.#finish();
    for (const worker of live) worker.process.kill('SIGTERM');
    const timeoutMs = shutdownTimeoutMs(this.#config);
    this.#killTimer = setTimeout(() => {
      this.#logger.error(
        { workers: this.#live().map((worker) => worker.process.pid) },
        `workers still running ${timeoutMs / 1000}s after SIGTERM: killing them`,
      );
      this.#killAll();
      this.#io.exit(EXIT_FAILURE);
    }, timeoutMs);
  }

  #finish(): void {
    clearTimeout(this.#killTimer);
    const code = this.#stopping?.code ?? 0;
    this.#logger.info({ code }, 'all workers stopped');
    this.#io.exit(code);
  }

  #killAll(): void {
    for (const worker of this.#live()) worker.process.kill('SIGKILL');
  }

  #live(): Worker[] {
    return this.#slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker]));
  }
}
