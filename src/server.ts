/**
 * Wires one Herald process together: engine, node, HTTP server (server API, operations endpoints)
 * and transports. The CLI's `serve` calls `startHerald`; tests call it directly.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { registerApi } from './api/index.ts';
import { TokenVerifier } from './auth/tokens.ts';
import type { HeraldConfig } from './config/config.ts';
import { NamespaceRules } from './core/namespace.ts';
import type { Broker } from './engine/broker.ts';
import { MemoryBroker } from './engine/memory/memory-broker.ts';
import { RedisBroker } from './engine/redis/redis-broker.ts';
import { HeraldNode } from './node/node.ts';
import { registerOps } from './ops/routes.ts';
import { registerSse } from './transports/sse.ts';
import { WebSocketTransport } from './transports/websocket.ts';

export interface HeraldServer {
  /** Base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly port: number;
  readonly node: HeraldNode;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** An engine to use instead of the one the configuration names. */
  readonly broker?: Broker;
}

export async function startHerald(config: HeraldConfig, options: StartOptions = {}): Promise<HeraldServer> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const broker = options.broker ?? createBroker(config, logger);
  const rules = new NamespaceRules(config.namespaceDefaults, new Map(Object.entries(config.namespaces)));
  const node = new HeraldNode({
    broker,
    config,
    logger,
    rules,
    tokens: new TokenVerifier({
      ...(config.tokenSecret === undefined ? {} : { secret: config.tokenSecret }),
      ...(config.tokenPublicKey === undefined ? {} : { publicKey: config.tokenPublicKey }),
      ...(config.tokenJwksUrl === undefined ? {} : { jwksUrl: config.tokenJwksUrl }),
      ...(config.tokenIssuer === undefined ? {} : { issuer: config.tokenIssuer }),
      ...(config.tokenAudience === undefined ? {} : { audience: config.tokenAudience }),
      clockToleranceS: config.tokenClockToleranceMs / 1000,
    }),
  });
  await node.start();
  try {
    return await listen(config, node, logger);
  } catch (err) {
    await node.close();
    throw err;
  }
}

/**
 * Connections the kernel queues before Herald accepts them. Node's default, 511, overflows when a
 * thousand clients reconnect at once (a node restart, a network blip): the kernel drops the excess
 * handshakes and those clients retry a second or more later. The kernel caps this at
 * `net.core.somaxconn` (4096 on current Linux).
 */
const LISTEN_BACKLOG = 4096;

async function listen(config: HeraldConfig, node: HeraldNode, logger: Logger): Promise<HeraldServer> {
  const httpLogger: FastifyBaseLogger = logger.child({ component: 'http' });
  // One log line per request would drown the logs of a busy publisher; errors are still logged.
  const logController = new LogController({ disableRequestLogging: true });
  const app = fastify({ loggerInstance: httpLogger, logController });
  await registerOps(app, { node });
  await registerApi(app, { node, apiKey: config.apiKey });
  await registerSse(app, { node });
  new WebSocketTransport(node).attach(app.server);
  try {
    await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  } catch (err) {
    await app.close();
    throw err;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  logger.info({ port, host: config.host, engine: node.engine }, 'herald started');
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    node,
    app,
    close: () => (closing ??= shutdown(app, node)),
  };
}

/**
 * How long requests still in flight when the node has closed get to finish before their connections
 * are dropped. Connections that never sent a request (or keep one open, like a half-closed stream)
 * would otherwise hold the shutdown until Node's request timeout, a minute or more.
 */
const SHUTDOWN_GRACE_MS = 1000;

async function shutdown(app: FastifyInstance, node: HeraldNode): Promise<void> {
  await node.close();
  const closed = app.close();
  const timer = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
  }
}

function createBroker(config: HeraldConfig, logger: Logger): Broker {
  if (config.redisUrl === undefined && config.redisClusterNodes === undefined) return new MemoryBroker();
  const log = logger.child({ component: 'redis' });
  return new RedisBroker({
    ...(config.redisUrl === undefined ? {} : { url: config.redisUrl }),
    ...(config.redisClusterNodes === undefined ? {} : { clusterNodes: config.redisClusterNodes }),
    prefix: config.redisPrefix,
    onError: (err) => log.warn({ err: err.message }, 'redis connection error'),
  });
}
