/**
 * What passes between the primary of `herald serve --workers` and its workers. The primary hands each
 * worker its configuration in an environment variable of the fork, so a worker never reads flags, files
 * or HERALD_* variables itself: every worker runs with exactly what the primary validated, including
 * the API key and token secret the primary generated once. A worker reports over the cluster IPC
 * channel when it listens. Shutdown travels as SIGTERM, not as a message: a signal also reaches a worker
 * that has not yet set up its message handling.
 */
import cluster from 'node:cluster';
import type { HeraldConfig } from '../../config/config.ts';
import { CliError, EXIT_FAILURE } from './io.ts';

/** Holds the worker's {@link WorkerPayload} as JSON; set only on processes the primary forks. */
export const WORKER_ENV = 'HERALD_WORKER';

export interface WorkerPayload {
  /** 1 to n; a restarted worker keeps the index (and so the node name) of the one it replaces. */
  readonly index: number;
  /** The resolved configuration, with this worker's node name. */
  readonly config: HeraldConfig;
}

/** Sent by a worker once its server listens and its engine is connected. */
export interface ReadyMessage {
  readonly herald: 'worker-ready';
  /** Where the worker listens, with the real port (every worker shares the port the primary bound). */
  readonly url: string;
  readonly port: number;
}

/** The environment of a worker's fork: the primary's, plus the payload. */
export function workerEnv(payload: WorkerPayload): Record<string, string> {
  return { [WORKER_ENV]: JSON.stringify(payload) };
}

/**
 * Whether this process is a worker forked by a Herald primary. Both the cluster's own marker and the
 * variable must be there, so a stray HERALD_WORKER in a shell is ignored.
 */
export function isWorkerProcess(env: NodeJS.ProcessEnv): boolean {
  return cluster.isWorker && env[WORKER_ENV] !== undefined;
}

/** The payload the primary gave this worker. */
export function readWorkerPayload(env: NodeJS.ProcessEnv): WorkerPayload {
  const text = env[WORKER_ENV] ?? '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`error: ${WORKER_ENV} is not JSON`, EXIT_FAILURE, { cause: err });
  }
  if (!isPayload(value))
    throw new CliError(`error: ${WORKER_ENV} does not hold a worker payload`, EXIT_FAILURE);
  return value;
}

function isPayload(value: unknown): value is WorkerPayload {
  if (typeof value !== 'object' || value === null) return false;
  const { index, config } = value as Record<string, unknown>;
  // The configuration was validated by the primary, which wrote this variable: checking its shape
  // again here would repeat the schema for no gain.
  return Number.isSafeInteger(index) && typeof config === 'object' && config !== null;
}

export function readyMessage(url: string, port: number): ReadyMessage {
  return { herald: 'worker-ready', url, port };
}

export function isReadyMessage(value: unknown): value is ReadyMessage {
  if (typeof value !== 'object' || value === null) return false;
  const { herald, url, port } = value as Record<string, unknown>;
  return herald === 'worker-ready' && typeof url === 'string' && typeof port === 'number';
}
