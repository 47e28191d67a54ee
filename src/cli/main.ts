/**
 * Entry point of the `herald` command (bin/herald.js loads it). Long-running commands (serve,
 * subscribe) keep the process alive through their sockets and end it themselves on a signal.
 */
import { processIo } from './commands/io.ts';
import { runCli } from './commands/program.ts';

process.exitCode = await runCli(process.argv.slice(2), processIo());
