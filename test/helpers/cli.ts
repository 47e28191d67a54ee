/**
 * Runs the `herald` command as a person would: a real process, with none of the HERALD_* variables of
 * the machine running the tests, its output collected as it comes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';

const BIN = new URL('../../bin/herald.js', import.meta.url).pathname;

/** The environment without any HERALD_* variable of the machine running the tests. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('HERALD_')),
);

export interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything printed so far. */
  stdout: string;
  stderr: string;
}

/** Starts `herald <args>` with `env` on top of the clean environment. */
export function run(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...cleanEnv, ...env } });
  const running: Running = { child, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (running.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (running.stderr += chunk.toString()));
  return running;
}

/** Resolves to the exit code once the process has exited (-1 when a signal ended it). */
export async function finished(running: Running): Promise<number> {
  if (running.child.exitCode !== null) return running.child.exitCode;
  const [code] = (await once(running.child, 'exit')) as [number | null];
  return code ?? -1;
}

/** Runs `herald <args>` to its end. */
export async function runToEnd(
  args: string[],
  env: Record<string, string> = {},
): Promise<Running & { code: number }> {
  const running = run(args, env);
  const code = await finished(running);
  return Object.assign(running, { code });
}

/** The JSON log lines printed so far. */
export function logLines(running: Running): Record<string, unknown>[] {
  return running.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Whether a process with this pid exists (signal 0 only checks). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
