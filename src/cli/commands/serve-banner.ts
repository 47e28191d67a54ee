/**
 * The text `herald serve` prints to stderr when it generated a secret: a person starting Herald for the
 * first time needs the generated key and secret, a token to try a client with, and a command to
 * publish with. It is not a log line: logs go to stdout as JSON; this is for the person at the terminal.
 */
import type { HeraldConfig } from '../../config/config.ts';
import { maskPassword } from '../../config/summary.ts';
import { DEFAULT_URL } from './client-options.ts';

export interface BannerInput {
  /** Where the server listens, with the real port: `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly config: HeraldConfig;
  /**
   * A token for user `demo` minted with the token secret, and its lifetime as written for people
   * ("24h"); none when tokens are signed by the app's own keys and there is no secret.
   */
  readonly demo: { readonly token: string; readonly ttl: string } | undefined;
}

export function startBanner({ url, config, demo }: BannerInput): string {
  const { generated } = config;
  const apiKey = generated.apiKey ? config.apiKey : '<your API key>';
  const secrets: string[] = [];
  if (generated.apiKey) secrets.push(`  API key:       ${config.apiKey}`);
  if (generated.tokenSecret) secrets.push(`  Token secret:  ${config.tokenSecret}`);
  const variables = [generated.apiKey && 'HERALD_API_KEY', generated.tokenSecret && 'HERALD_TOKEN_SECRET']
    .filter((name) => name !== false)
    .join(' / ');
  const urlFlag = url === DEFAULT_URL ? '' : ` --url ${url}`;
  const lines = [
    '',
    `Herald is running at ${url} with ${engineDescription(config)}${workersNote(config)}.`,
    '',
    'Generated at start (not stored anywhere):',
    ...secrets,
    `Set ${variables} to keep ${secrets.length === 1 ? 'it' : 'them'} across restarts.`,
    '',
    ...(demo === undefined
      ? []
      : [`Development client token for user "demo" (expires in ${demo.ttl}):`, `  ${demo.token}`, '']),
    'Publish a message:',
    `  curl -X POST ${url}/api/publish -H 'Authorization: apikey ${apiKey}' -H 'Content-Type: application/json' -d '{"channel":"chat:lobby","data":{"text":"hello"}}'`,
    '',
    'Watch a channel:',
    `  npx herald subscribe chat:lobby${urlFlag} --token ${demo?.token ?? '<a client token signed by your key>'}`,
    '',
  ];
  return lines.join('\n');
}

function workersNote(config: HeraldConfig): string {
  return config.workers > 1 ? ` (${config.workers} worker processes)` : '';
}

function engineDescription(config: HeraldConfig): string {
  if (config.redisClusterNodes !== undefined) {
    return `Redis Cluster (seed nodes ${config.redisClusterNodes.join(', ')})`;
  }
  if (config.redisUrl !== undefined) return `Redis at ${maskPassword(config.redisUrl)}`;
  return 'the memory engine (one node, nothing persisted; set HERALD_REDIS_URL to use Redis)';
}
