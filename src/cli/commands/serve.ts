/**
 * `herald serve`: loads the configuration and runs the role this process has. Alone (workers = 1) it
 * starts the server and stops it cleanly on SIGINT/SIGTERM; with several workers it is the primary
 * (serve-primary.ts), and a process that primary forked is a worker (serve-worker.ts).
 */
import { Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import type { HeraldConfig } from '../../config/config.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { SCALAR_KEYS, SCALAR_NAMES, type ScalarKey } from '../../config/schema.ts';
import type { HeraldServer } from '../../server.ts';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from './io.ts';
import { printStartBanner, startServer } from './serve-start.ts';
import { isWorkerProcess } from './serve-worker-channel.ts';

/** Help for each configuration flag; docs/configuration.md has the full table. */
const FLAG_HELP: Readonly<Record<ScalarKey, readonly [placeholder: string, help: string]>> = {
  port: ['port', 'HTTP port; 0 picks a free one (default 8080)'],
  host: ['address', 'address to listen on (default 127.0.0.1: this machine only)'],
  redisUrl: ['url', 'redis:// or rediss:// URL (default: the embedded memory engine)'],
  redisClusterNodes: ['nodes', 'comma-separated Redis Cluster seed nodes host:port'],
  redisPrefix: [
    'prefix',
    'prefix of every Redis key, to share one Redis between deployments (default herald:)',
  ],
  apiKey: ['key', 'server API key, at least 16 characters (default: generated and printed)'],
  adminPassword: ['password', 'dashboard sign-in password, at least 16 characters (the API key also works)'],
  dashboard: ['mode', 'auto, on or off (auto: on when listening on loopback or with an admin password)'],
  tokenSecret: [
    'secret',
    'HMAC secret for client tokens, at least 32 bytes (default: generated and printed)',
  ],
  tokenPublicKey: ['pem', 'PEM public key (or its file) verifying RS*/PS*/ES*/EdDSA client tokens'],
  tokenJwksUrl: ['url', 'JWKS URL whose keys verify RS*/PS*/ES*/EdDSA client tokens by kid'],
  tokenIssuer: ['iss', 'client tokens must carry this issuer (iss)'],
  tokenAudience: ['aud', 'client tokens must carry this audience (aud)'],
  tokenClockTolerance: ['duration', 'tolerated clock difference for exp/nbf/iat, e.g. 5s (default 5s)'],
  allowedOrigins: [
    'origins',
    'comma-separated browser origins allowed to connect; * = any (default: same origin only)',
  ],
  maxFrameSize: ['size', 'largest frame a client may send, e.g. 64KiB (default 64KiB)'],
  maxOutboundBuffer: [
    'size',
    'per-connection send buffer before a slow client is dropped, e.g. 4MiB (default 4MiB)',
  ],
  maxSubscriptionsPerConnection: ['count', 'subscriptions one connection may hold (default 256)'],
  maxConnectionsPerUser: ['count', 'connections one user may hold on this node; 0 = no limit (default 0)'],
  commandRate: [
    'count',
    'commands per second per connection, bursts of twice that; 0 = no limit (default 100)',
  ],
  publishRate: [
    'count',
    'publishes per second per connection, bursts of twice that; 0 = no limit (default 20)',
  ],
  presenceTtl: ['duration', 'how long a client of a dead node stays in presence, e.g. 30s (default 30s)'],
  pingInterval: ['duration', 'time between server pings, e.g. 25s (default 25s)'],
  pongTimeout: ['duration', 'time a client has to answer a ping (default 10s)'],
  connectTimeout: ['duration', 'time a new connection has to send connect (default 10s)'],
  headersTimeout: ['duration', 'time an HTTP client has to send its request headers (default 10s)'],
  requestTimeout: [
    'duration',
    'time an HTTP client has to send a whole request, body included (default 30s)',
  ],
  trustProxy: [
    'proxies',
    'believe X-Forwarded-* from: true, a hop count, or addresses/CIDRs (default false)',
  ],
  drainPeriod: [
    'duration',
    'on SIGTERM, time over which clients are moved to other nodes; 0 = all at once (default 10s)',
  ],
  historyMaxLimit: ['count', 'most publications one history call returns (default 1000)'],
  idempotencyTtl: ['duration', 'how long idempotency keys are remembered (default 5m)'],
  positionCheckInterval: [
    'duration',
    'how often followed channels are checked for publications pub/sub lost (default 15s)',
  ],
  deliveryCheckInterval: [
    'duration',
    'how often the node checks that publications reach it through the engine (default 1s)',
  ],
  nodeName: ['name', 'this node’s name in info and logs (default: the host name)'],
  logLevel: ['level', 'fatal, error, warn, info, debug, trace or silent (default info)'],
  workers: [
    'count',
    'processes serving the one port, or auto = one per core; over 1 needs Redis (default 1)',
  ],
};

export function registerServe(program: Command, io: CliIo): void {
  const command = program
    .command('serve')
    .description('run a Herald node (flags > HERALD_* environment > config file > defaults)')
    .option('--config <path>', 'config file (default: HERALD_CONFIG or ./herald.config.json if present)');
  for (const key of SCALAR_KEYS) {
    const { flag, env } = SCALAR_NAMES[key];
    const [placeholder, help] = FLAG_HELP[key];
    command.addOption(new Option(`--${flag} <${placeholder}>`, `${help} [${env}]`));
  }
  command.action((options: Record<string, unknown>) => serve(options, io));
}

async function serve(flags: Record<string, unknown>, io: CliIo): Promise<void> {
  if (isWorkerProcess(io.env)) {
    const { runWorker } = await import('./serve-worker.ts');
    return runWorker(io);
  }
  const config = load(flags, io);
  if (config.workers > 1) {
    const { runPrimary } = await import('./serve-primary.ts');
    return runPrimary(config, io);
  }
  const logger = pino({ level: config.logLevel, base: { pid: process.pid, node: config.nodeName } });
  const server = await startServer(config, logger);
  await printStartBanner(server.url, config, io);
  stopOnSignal(server, logger, io);
}

function load(flags: Record<string, unknown>, io: CliIo): HeraldConfig {
  try {
    return loadConfig({ flags, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_USAGE, { cause: err });
    throw err;
  }
}

/** The first signal closes the server (connections, engine) and exits 0; a second one exits at once. */
function stopOnSignal(server: HeraldServer, logger: Logger, io: CliIo): void {
  let stopping = false;
  io.onSignal((signal) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for shutdown');
      io.exit(EXIT_FAILURE);
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => io.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        io.exit(EXIT_FAILURE);
      },
    );
  });
}
