/** `herald publish <channel> <json>`: publishes through the server HTTP API and prints the result. */
import type { Command } from 'commander';
import type { JsonValue } from '@herald/protocol';
import { checkChannel, endpoint, parseJsonArgument, requireApiKey, serverUrl } from './client-options.ts';
import { CliError, EXIT_FAILURE, type CliIo } from './io.ts';

interface PublishOptions {
  url?: string;
  apiKey?: string;
  idempotencyKey?: string;
}

/** Long enough for a publish that waits on a reconnecting Redis, short enough not to hang a script. */
const REQUEST_TIMEOUT_MS = 30_000;

export function registerPublish(program: Command, io: CliIo): void {
  program
    .command('publish')
    .description('publish a JSON message to a channel through the server API')
    .argument('<channel>', 'channel name, e.g. chat:lobby')
    .argument('<json>', `the message, as JSON, e.g. '{"text":"hello"}'`)
    .option('--url <url>', 'server URL (default: HERALD_URL or http://127.0.0.1:8080)')
    .option('--api-key <key>', 'server API key (default: HERALD_API_KEY)')
    .option('--idempotency-key <key>', 'publish at most once per key, even if the command is retried')
    .addHelpText(
      'after',
      `\nExample:\n  herald publish chat:lobby '{"text":"hello"}' --api-key "$HERALD_API_KEY"`,
    )
    .action((channel: string, json: string, options: PublishOptions) => publish(channel, json, options, io));
}

async function publish(channel: string, json: string, options: PublishOptions, io: CliIo): Promise<void> {
  const body: { channel: string; data: JsonValue; idempotencyKey?: string } = {
    channel: checkChannel(channel),
    data: parseJsonArgument(json, '<json>'),
  };
  if (options.idempotencyKey !== undefined) body.idempotencyKey = options.idempotencyKey;
  const apiKey = requireApiKey(options.apiKey, io.env);
  const url = endpoint(serverUrl(options.url, io.env), 'api/publish', 'http');
  const response = await post(io, url, apiKey, body);
  const text = await response.text();
  if (!response.ok) throw new CliError(`error: ${describeHttpError(response.status, text)}`, EXIT_FAILURE);
  io.writeOut(`${text.trim() === '' ? '{}' : text.trim()}\n`);
}

async function post(io: CliIo, url: string, apiKey: string, body: unknown): Promise<Response> {
  try {
    return await io.fetch(url, {
      method: 'POST',
      headers: { authorization: `apikey ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new CliError(`error: cannot reach Herald at ${url}: ${describeFetchError(err)}`, EXIT_FAILURE, {
      cause: err,
    });
  }
}

/**
 * "HERALD_ERR_INVALID_API_KEY: invalid API key (HTTP 401)". Reads `{error: {code, message}}` and the
 * flat `{code, message}` (Fastify's own errors); anything else is shown as the status and body.
 */
export function describeHttpError(status: number, text: string): string {
  const detail = errorDetail(text);
  if (detail === undefined) {
    const snippet = text.trim().slice(0, 200);
    return `HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}`;
  }
  const code = detail.code === undefined ? '' : `${detail.code}: `;
  return `${code}${detail.message ?? 'request failed'} (HTTP ${status})`;
}

function errorDetail(text: string): { code?: string; message?: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(body)) return undefined;
  const source = isRecord(body['error']) ? body['error'] : body;
  const code = source['code'];
  const message = source['message'];
  if (code === undefined && message === undefined) return undefined;
  return {
    ...(code === undefined ? {} : { code: String(code) }),
    ...(typeof message === 'string' ? { message } : {}),
  };
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError')
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  // Node's fetch wraps the socket error (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
