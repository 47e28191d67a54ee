/**
 * What the CLI commands touch of the outside world, passed in so tests can run a command in-process
 * and see what it printed without a child process.
 */

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Writes to stdout as is (add the newline yourself). */
  writeOut(text: string): void;
  /** Writes to stderr as is. */
  writeErr(text: string): void;
  readonly fetch: typeof fetch;
  /** Calls `handler` on SIGINT and SIGTERM until the returned function is called. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
  /** Ends the process (used where a long-running command stops on a signal). */
  exit(code: number): void;
}

/** A failure the CLI reports with a message and no stack. Exit code 2 means a usage error. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** Bad arguments, flags or configuration: the command did nothing. */
export const EXIT_USAGE = 2;
/** The command ran and failed (server error, connection closed, cannot reach the server). */
export const EXIT_FAILURE = 1;

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** The real process. */
export function processIo(): CliIo {
  return {
    env: process.env,
    cwd: process.cwd(),
    writeOut: (text) => process.stdout.write(text),
    writeErr: (text) => process.stderr.write(text),
    fetch: globalThis.fetch,
    onSignal(handler) {
      for (const signal of SIGNALS) process.on(signal, handler);
      return () => {
        for (const signal of SIGNALS) process.off(signal, handler);
      };
    },
    exit: (code) => process.exit(code),
  };
}
