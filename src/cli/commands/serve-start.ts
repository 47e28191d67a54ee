/**
 * What every process that serves does at start, whether it runs alone or as one of several workers:
 * start the server with the CLI's error handling, and greet the person at the terminal.
 */
import type { Logger } from 'pino';
import { mintToken } from '../../auth/tokens.ts';
import type { HeraldConfig } from '../../config/config.ts';
import type { HeraldServer } from '../../server.ts';
import { CliError, EXIT_FAILURE, type CliIo } from './io.ts';
import { startBanner } from './serve-banner.ts';

/** The banner's token for user `demo`: long enough for a day of trying things out. */
const DEMO_TOKEN_TTL = { seconds: 24 * 3600, text: '24h' };

/** Starts one server process; a failure becomes a CliError (exit 1) after it is logged. */
export async function startServer(config: HeraldConfig, logger: Logger): Promise<HeraldServer> {
  // Loaded here so that the client commands (and the primary of several workers) do not load the server.
  const { startHerald } = await import('../../server.ts');
  try {
    return await startHerald(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    const reason = err instanceof Error ? err.message : String(err);
    throw new CliError(`error: Herald could not start: ${reason}`, EXIT_FAILURE, { cause: err });
  }
}

/** Prints the start banner to stderr when a secret was generated: the person needs to see it. */
export async function printStartBanner(url: string, config: HeraldConfig, io: CliIo): Promise<void> {
  if (!config.generated.apiKey && !config.generated.tokenSecret) return;
  // No demo token when the app signs tokens with its own keys and set no secret.
  const demo =
    config.tokenSecret !== undefined
      ? {
          token: await mintToken(config.tokenSecret, { user: 'demo', ttlSeconds: DEMO_TOKEN_TTL.seconds }),
          ttl: DEMO_TOKEN_TTL.text,
        }
      : undefined;
  io.writeErr(startBanner({ url, config, demo }));
}
