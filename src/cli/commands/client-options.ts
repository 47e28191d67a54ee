/**
 * Options and arguments shared by the client-side commands (publish, subscribe): where the server is,
 * how to authenticate, and local checks that catch mistakes before anything goes over the network.
 */
import type { JsonValue } from '@herald/protocol';
import { channelNameProblem } from '../../core/channel.ts';
import { CliError, EXIT_USAGE } from './io.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** `--url`, else HERALD_URL, else the default local server. Accepts http(s):// and ws(s)://. */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv): URL {
  const text = flag ?? nonEmpty(env['HERALD_URL']) ?? DEFAULT_URL;
  const source = flag === undefined && nonEmpty(env['HERALD_URL']) !== undefined ? 'HERALD_URL' : '--url';
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url === undefined || !['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new CliError(
      `error: ${source} must be an http(s):// or ws(s):// URL of a Herald server, e.g. ${DEFAULT_URL}; got ${JSON.stringify(text)}`,
      EXIT_USAGE,
    );
  }
  return url;
}

/** The URL of `path` (e.g. "api/publish") under the server URL, keeping any path prefix of a proxy. */
export function endpoint(base: URL, path: string, protocol: 'http' | 'ws'): string {
  const url = new URL(base.href);
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  url.protocol = protocol === 'http' ? (secure ? 'https:' : 'http:') : secure ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`;
  url.search = '';
  url.hash = '';
  return url.href;
}

/** `--api-key`, else HERALD_API_KEY; required. */
export function requireApiKey(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const key = flag ?? nonEmpty(env['HERALD_API_KEY']);
  if (key === undefined) {
    throw new CliError(
      'error: no API key: pass --api-key or set HERALD_API_KEY (herald serve prints a generated one at start)',
      EXIT_USAGE,
    );
  }
  return key;
}

/** `--token`, else HERALD_TOKEN; undefined connects anonymously. */
export function clientToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return flag ?? nonEmpty(env['HERALD_TOKEN']);
}

/** Checks a channel name with the server's own rules, so a typo fails here with the reason. */
export function checkChannel(name: string): string {
  const problem = channelNameProblem(name);
  if (problem !== undefined)
    throw new CliError(`error: invalid channel ${JSON.stringify(name)}: ${problem}`, EXIT_USAGE);
  return name;
}

/** Parses a JSON argument; `what` names it in the error ("<json>", "--info"). */
export function parseJsonArgument(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CliError(
      `error: ${what} is not valid JSON (${reason}); quote it for the shell, e.g. '{"text":"hello"}'`,
      EXIT_USAGE,
    );
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
