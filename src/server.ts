/**
 * Wires one Herald process together: engine, node, HTTP server (server API, operations endpoints)
 * and transports. The CLI's `serve` calls `startHerald`; tests call it directly.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { registerApi } from './api/index.ts';
import { answerClientError, answerFrameworkError, installErrorHandling } from './api/errors.ts';
import { Metrics } from './ops/metrics.ts';
import { RateLimitedLog } from './core/rate-limited-log.ts';
import { registerDashboardRoutes } from './ops/dashboard-routes.ts';
import { DashboardSessions } from './ops/dashboard-session.ts';
import { TokenVerifier } from './auth/tokens.ts';
import type { HeraldConfig } from './config/config.ts';
import { configSummary } from './config/summary.ts';
import { NamespaceRules, withBuiltInNamespaces } from './core/namespace.ts';
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
  /**
   * Shuts down gracefully (what SIGTERM and SIGINT do): stops listening, reports not ready, moves the
   * clients to other nodes over the configured drain period, lets requests under way finish, then
   * closes the node and its engine. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** An engine to use instead of the one the configuration names. */
  readonly broker?: Broker;
}

export async function startHerald(config: HeraldConfig, options: StartOptions = {}): Promise<HeraldServer> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const metrics = new Metrics();
  const broker = options.broker ?? createBroker(config, logger);
  const rules = new NamespaceRules(
    config.namespaceDefaults,
    withBuiltInNamespaces(config.namespaces, { dashboard: config.dashboard }),
  );
  const node = new HeraldNode({
    broker,
    config,
    logger,
    rules,
    metrics,
    tokens: new TokenVerifier({
      ...(config.tokenSecret === undefined ? {} : { secret: config.tokenSecret }),
      ...(config.tokenPublicKey === undefined ? {} : { publicKey: config.tokenPublicKey }),
      ...(config.tokenJwksUrl === undefined ? {} : { jwksUrl: config.tokenJwksUrl }),
      ...(config.tokenIssuer === undefined ? {} : { issuer: config.tokenIssuer }),
      ...(config.tokenAudience === undefined ? {} : { audience: config.tokenAudience }),
      clockToleranceS: config.tokenClockToleranceMs / 1000,
    }),
  });
  metrics.watch(node);
  await node.start();
  try {
    return await listen(config, node, logger, metrics);
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

async function listen(
  config: HeraldConfig,
  node: HeraldNode,
  logger: Logger,
  metrics: Metrics,
): Promise<HeraldServer> {
  const httpLogger: FastifyBaseLogger = logger.child({ component: 'http' });
  // One log line per request would drown the logs of a busy publisher; errors are still logged.
  const logController = new LogController({ disableRequestLogging: true });
  const app = fastify({
    loggerInstance: httpLogger,
    logController,
    trustProxy: trustProxyOption(config),
    // Slowloris: a client trickling its headers or body holds a socket (and a parser) until these
    // run out. Node's defaults (60 s, 5 min, checked every 30 s) are far too patient, and fastify
    // turns the request timeout off. Upgraded WebSockets and SSE streams are not subject to them.
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: timeoutCheckInterval(config),
    },
    // Whatever Herald answers with an error has the API's error body, even outside /api (dashboard
    // routes, unknown paths) and before routing (malformed requests, undecodable URLs).
    clientErrorHandler: answerClientError,
    frameworkErrors: (err, _request, reply) => answerFrameworkError(err, reply),
  });
  installErrorHandling(app);
  // Once the node drains, every answer closes its connection: keep-alive clients (publishers) go to
  // another node for their next request, and their connections do not hold the shutdown.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (node.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  // The dashboard's sign-in opens the API and its own connections; none of it exists when it is off.
  const dashboard = config.dashboard ? new DashboardSessions(config) : undefined;
  await registerOps(app, { node, metrics });
  if (dashboard !== undefined) registerDashboardRoutes(app, { node, sessions: dashboard });
  await registerApi(app, { node, apiKey: config.apiKey, ...(dashboard === undefined ? {} : { dashboard }) });
  await registerSse(app, { node, ...(dashboard === undefined ? {} : { dashboard }) });
  new WebSocketTransport(node, dashboard).attach(app.server);
  try {
    await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  } catch (err) {
    await app.close();
    throw err;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  logger.info(
    { port, host: config.host, engine: node.engine, config: configSummary(config) },
    'herald started',
  );
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    node,
    app,
    close: () => (closing ??= shutdown(app, node, config.drainPeriodMs)),
  };
}

/**
 * How long requests still in flight once the clients are gone get to finish before their connections
 * are dropped. Connections that never sent a request (or keep one open, like a half-closed stream)
 * would otherwise hold the shutdown until Node's request timeout, a minute or more.
 */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * The graceful drain, in an order that loses nothing: the node turns not ready and the server stops
 * listening (new connections go to other nodes); the clients are moved away over `drainPeriodMs`;
 * HTTP requests under way (publishes) finish while the engine is still open; only then do the node
 * and its engine close. docs/operations.md describes it for operators.
 */
async function shutdown(app: FastifyInstance, node: HeraldNode, drainPeriodMs: number): Promise<void> {
  const drained = node.drain(drainPeriodMs);
  // Stops accepting connections at once (and closes idle keep-alive ones); app.close() below waits
  // for the rest.
  app.server.close();
  try {
    await drained;
    const closed = app.close();
    const timer = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await node.close();
  }
}

/** How often Node looks for requests past their timeouts: every second, more often for short timeouts. */
function timeoutCheckInterval(config: HeraldConfig): number {
  const shortest = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  return Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
}

/** HERALD_TRUST_PROXY as fastify takes it (a hop count becomes the function fastify would make of it). */
function trustProxyOption(
  config: HeraldConfig,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  const { trustProxy } = config;
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  return typeof trustProxy === 'boolean' ? trustProxy : [...trustProxy];
}

function createBroker(config: HeraldConfig, logger: Logger): Broker {
  if (config.redisUrl === undefined && config.redisClusterNodes === undefined) return new MemoryBroker();
  const log = logger.child({ component: 'redis' });
  // While Redis is down every reconnect attempt fails with an error: a few lines say so, not thousands.
  const errors = new RateLimitedLog(log, 'warn');
  return new RedisBroker({
    ...(config.redisUrl === undefined ? {} : { url: config.redisUrl }),
    ...(config.redisClusterNodes === undefined ? {} : { clusterNodes: config.redisClusterNodes }),
    prefix: config.redisPrefix,
    onError: (err) => errors.log({ err: err.message }, 'redis connection error'),
  });
}
