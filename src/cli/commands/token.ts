/** `herald token --user <id>`: mints a client token for development and tests. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { JsonValue } from '@herald/protocol';
import { mintToken } from '../../auth/tokens.ts';
import { channelNameProblem } from '../../core/channel.ts';
import { isValidPattern } from '../../core/pattern.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { splitList } from '../../config/schema.ts';
import { parseDuration } from '../../config/units.ts';
import { parseJsonArgument } from './client-options.ts';
import { CliError, EXIT_USAGE, type CliIo } from './io.ts';

interface TokenOptions {
  user: string;
  channels?: string[];
  channel?: string;
  ttl: number;
  info?: string;
  tokenSecret?: string;
  config?: string;
}

const DEFAULT_TTL_S = 24 * 3600;

export function registerToken(program: Command, io: CliIo): void {
  program
    .command('token')
    .description('mint a client token (HS256 JWT) signed with the token secret')
    .requiredOption('--user <id>', 'user id (the token subject)')
    .option(
      '--channels <list>',
      'comma-separated channels or patterns the token may subscribe to, e.g. chat:*,news',
      parseChannels,
    )
    .option(
      '--channel <name>',
      'mint a channel token for this private channel instead of a connection token',
      parseChannel,
    )
    .addOption(
      new Option('--ttl <duration>', 'lifetime such as 30m, 1h, 7d; 0 = never expires')
        .argParser(parseTtl)
        .default(DEFAULT_TTL_S, '24h'),
    )
    .option('--info <json>', 'JSON object attached to the client, e.g. \'{"name":"Ada"}\'')
    .option(
      '--token-secret <secret>',
      'secret the server signs tokens with (default: HERALD_TOKEN_SECRET or the config file)',
    )
    .option(
      '--config <path>',
      'config file to read tokenSecret from (default: HERALD_CONFIG or ./herald.config.json)',
    )
    .addHelpText('after', '\nExample:\n  herald token --user alice --channels "chat:*" --ttl 1h')
    .action((options: TokenOptions) => token(options, io));
}

function parseChannel(value: string): string {
  const problem = channelNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

async function token(options: TokenOptions, io: CliIo): Promise<void> {
  if (options.user.trim() === '') throw new CliError('error: --user must not be empty', EXIT_USAGE);
  const info = options.info === undefined ? undefined : parseInfo(options.info);
  const secret = tokenSecret(options, io);
  const jwt = await mintToken(secret, {
    user: options.user,
    ...(options.ttl === 0 ? {} : { ttlSeconds: options.ttl }),
    ...(options.channels === undefined ? {} : { channels: options.channels }),
    ...(options.channel === undefined ? {} : { channel: options.channel }),
    ...(info === undefined ? {} : { info }),
  });
  io.writeOut(`${jwt}\n`);
}

/** The secret the server would use: flag > HERALD_TOKEN_SECRET > config file, checked like the server does. */
function tokenSecret(options: TokenOptions, io: CliIo): string {
  const flags: Record<string, string> = {};
  if (options.tokenSecret !== undefined) flags['tokenSecret'] = options.tokenSecret;
  if (options.config !== undefined) flags['config'] = options.config;
  let config;
  try {
    config = loadConfig({ flags, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_USAGE, { cause: err });
    throw err;
  }
  if (config.generated.tokenSecret || config.tokenSecret === undefined) {
    throw new CliError(
      'error: no token secret: pass --token-secret, set HERALD_TOKEN_SECRET, or set tokenSecret in herald.config.json (the same secret the server uses)',
      EXIT_USAGE,
    );
  }
  return config.tokenSecret;
}

function parseInfo(text: string): JsonValue {
  const info = parseJsonArgument(text, '--info');
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    throw new CliError('error: --info must be a JSON object, e.g. \'{"name":"Ada"}\'', EXIT_USAGE);
  }
  return info;
}

function parseChannels(value: string): string[] {
  const channels = splitList(value);
  if (channels.length === 0) throw new InvalidArgumentError('list at least one channel or pattern');
  const bad = channels.find((channel) => !isValidPattern(channel));
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `${JSON.stringify(bad)} is not a channel or pattern (characters A-Z a-z 0-9 _ - . : @ = / + and * as a wildcard)`,
    );
  }
  return channels;
}

/** Seconds; sub-second remainders round up so a short ttl never becomes "no expiry". */
function parseTtl(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError('use a duration such as 30m, 1h or 7d; 0 means no expiry');
  return Math.ceil(ms / 1000);
}
