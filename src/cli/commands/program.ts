/**
 * The `herald` command line: one subcommand per file in this folder. `runCli` parses, runs and turns
 * every failure into a message on stderr and an exit code (0 ok, 1 failed, 2 usage), never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from './io.ts';
import { registerPublish } from './publish.ts';
import { registerServe } from './serve.ts';
import { registerSubscribe, type OpenClient } from './subscribe.ts';
import { registerToken } from './token.ts';

export interface CliOverrides {
  /** Replaces the WebSocket client of `herald subscribe` (tests). */
  readonly openClient?: OpenClient;
}

export function createProgram(io: CliIo, overrides: CliOverrides = {}): Command {
  const program = new Command('herald')
    .description('Herald: self-hosted real-time messaging server')
    .version(packageVersion(), '-v, --version')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.writeOut(text), writeErr: (text) => io.writeErr(text) })
    .showHelpAfterError('(add --help for usage)');
  registerServe(program, io);
  registerPublish(program, io);
  registerSubscribe(program, io, overrides.openClient);
  registerToken(program, io);
  return program;
}

/** Runs `herald <args>` (without the node and script paths); resolves with the exit code. */
export async function runCli(
  args: readonly string[],
  io: CliIo,
  overrides: CliOverrides = {},
): Promise<number> {
  try {
    await createProgram(io, overrides).parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its message (unknown option, missing argument) or the help.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof CliError) {
      io.writeErr(`${err.message}\n`);
      return err.exitCode;
    }
    io.writeErr(
      `herald: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT_FAILURE;
  }
}

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : 'unknown';
}
