/**
 * A worker of `herald serve --workers <n>`: one ordinary Herald server process, configured by the
 * primary, listening on the port the primary shares between its workers. The primary decides when
 * workers stop: it forwards SIGINT/SIGTERM as one SIGTERM to each worker and kills those that take too
 * long.
 */
import { pino } from 'pino';
import type { HeraldServer } from '../../server.ts';
import { CliError, EXIT_FAILURE, type CliIo } from './io.ts';
import { startServer } from './serve-start.ts';
import { readWorkerPayload, readyMessage, type WorkerPayload } from './serve-worker-channel.ts';

/**
 * Runs this process as a worker. Every way out ends in `io.exit`: a cluster worker's IPC channel keeps
 * it alive after its work is done, so returning an exit code would leave it hanging.
 */
export async function runWorker(io: CliIo): Promise<void> {
  let payload: WorkerPayload;
  try {
    payload = readWorkerPayload(io.env);
  } catch (err) {
    io.writeErr(`${err instanceof Error ? err.message : String(err)}\n`);
    return io.exit(EXIT_FAILURE);
  }
  const { index, config } = payload;
  const logger = pino({
    level: config.logLevel,
    base: { pid: process.pid, node: config.nodeName, worker: index },
  });
  let server: HeraldServer | undefined;
  let stopping = false;
  const stop = (): void => {
    // Before the server runs there is nothing to close gracefully; the start is simply abandoned.
    if (server === undefined) return io.exit(0);
    logger.info('shutting down');
    server.close().then(
      () => io.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        io.exit(EXIT_FAILURE);
      },
    );
  };
  io.onSignal((signal) => {
    // Ctrl-C in a terminal sends SIGINT to the whole process group: the primary got it too and will
    // send SIGTERM. Acting on it here as well would race the primary's shutdown.
    if (signal === 'SIGINT' || stopping) return;
    // Later SIGTERMs are ignored, not taken as "exit now": under systemd every process of the unit gets
    // SIGTERM and then the primary forwards one more; the primary's timeout deals with a stuck worker.
    stopping = true;
    stop();
  });

  try {
    server = await startServer(config, logger);
  } catch (err) {
    io.writeErr(`${err instanceof CliError ? err.message : String(err)} (worker ${index})\n`);
    return io.exit(EXIT_FAILURE);
  }
  process.send?.(readyMessage(server.url, server.port));
}
