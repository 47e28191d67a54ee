/**
 * Builds the HeraldConfig from its sources. Precedence: command-line flags > HERALD_* environment
 * variables > config file (`--config`, `HERALD_CONFIG`, or `herald.config.json` in the working
 * directory) > defaults. Every source is validated; the first problem stops the start with a
 * ConfigError naming the key and where it came from.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { DEFAULT_NAMESPACE_OPTIONS, type NamespaceOptions } from '../core/namespace.ts';
import type { HeraldConfig } from './config.ts';
import { ConfigError } from './config-error.ts';
import type { NamespaceInput, ScalarKey, ScalarValues } from './schema.ts';
import { locateConfigFile, readEnvLayer, readFileLayer, readFlagLayer, type Layer } from './sources.ts';

export { ConfigError } from './config-error.ts';

export interface LoadConfigInput {
  /** Commander's option object: camelCased flag names (`redisUrl`, `config`) with string values. */
  readonly flags: Record<string, unknown>;
  readonly env: NodeJS.ProcessEnv;
  /** Where relative config file paths (and the default `herald.config.json`) are looked up. */
  readonly cwd: string;
}

/** The values used where no source sets a key. */
export const CONFIG_DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  redisPrefix: 'herald:',
  allowedOrigins: [] as readonly string[],
  maxFrameBytes: 64 * 1024,
  maxOutboundBytes: 4 * 1024 * 1024,
  maxSubscriptionsPerConnection: 256,
  maxConnectionsPerUser: 0,
  commandRate: 100,
  publishRate: 20,
  presenceTtlMs: 30_000,
  pingIntervalMs: 25_000,
  pongTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  drainPeriodMs: 10_000,
  trustProxy: false as boolean | number | readonly string[],
  historyMaxLimit: 1000,
  idempotencyTtlMs: 5 * 60_000,
  positionCheckIntervalMs: 15_000,
  deliveryCheckIntervalMs: 1000,
  tokenClockToleranceMs: 5_000,
  logLevel: 'info',
  workers: 1,
} as const;

/** Where each set key came from, for errors about combinations of keys. */
type Origins = Partial<Record<ScalarKey, { readonly key: string; readonly source: string }>>;

export function loadConfig(input: LoadConfigInput): HeraldConfig {
  const location = locateConfigFile(input.flags, input.env, input.cwd);
  const file = location === undefined ? undefined : readFileLayer(location);
  const layers = [file, readEnvLayer(input.env), readFlagLayer(input.flags)];
  const values: ScalarValues = {};
  const origins: Origins = {};
  for (const layer of layers) if (layer !== undefined) mergeLayer(values, origins, layer);
  checkCombinations(origins);
  const config = buildConfig(values, file);
  checkWorkers(config, values, origins);
  checkNamespaces(config, file?.source ?? 'defaults');
  return config;
}

/** Anonymous clients have no user and no token: they can only be let into `subscribe: "any"` namespaces. */
function checkNamespaces(config: HeraldConfig, source: string): void {
  const all: [string, NamespaceOptions][] = [
    ['namespaceDefaults', config.namespaceDefaults],
    ...Object.entries(config.namespaces).map(([name, options]): [string, NamespaceOptions] => [
      `namespaces.${name}`,
      options,
    ]),
  ];
  for (const [key, options] of all) {
    if (options.anonymousSubscribe && options.subscribe !== 'any') {
      throw new ConfigError(
        `${key}.anonymousSubscribe`,
        source,
        `anonymous clients cannot subscribe where subscribe is "${options.subscribe}" (they have no token to check); set one or the other`,
      );
    }
  }
}

/** Copies the keys `layer` sets over those of earlier (lower-precedence) layers. */
function mergeLayer(values: ScalarValues, origins: Origins, layer: Layer): void {
  for (const [key, value] of Object.entries(layer.values) as [ScalarKey, unknown][]) {
    if (value === undefined) continue;
    Object.assign(values, { [key]: value });
    origins[key] = { key: layer.spell(key), source: layer.source };
  }
}

function checkCombinations(origins: Origins): void {
  const { redisUrl, redisClusterNodes } = origins;
  if (redisUrl !== undefined && redisClusterNodes !== undefined) {
    throw new ConfigError(
      redisClusterNodes.key,
      redisClusterNodes.source,
      `cannot be combined with ${redisUrl.key} (${redisUrl.source}): set a Redis URL for one server or cluster seed nodes, not both`,
    );
  }
}

/**
 * Workers on the memory engine would each hold their own channels: a client on one worker would never
 * see what was published through another. Refused rather than started half-working.
 */
function checkWorkers(config: HeraldConfig, values: ScalarValues, origins: Origins): void {
  const { workers } = origins;
  if (workers === undefined || config.workers <= 1) return;
  if (config.redisUrl !== undefined || config.redisClusterNodes !== undefined) return;
  const auto = values.workers === 'auto' ? `auto means ${config.workers} workers on this machine, and ` : '';
  throw new ConfigError(
    workers.key,
    workers.source,
    `${auto}more than one worker needs the Redis engine (set HERALD_REDIS_URL or HERALD_REDIS_CLUSTER_NODES): workers on the memory engine would not see each other's channels`,
  );
}

function buildConfig(values: ScalarValues, file: Layer | undefined): HeraldConfig {
  const namespaceDefaults = applyNamespace(DEFAULT_NAMESPACE_OPTIONS, file?.namespaceDefaults ?? {});
  const namespaces = Object.fromEntries(
    Object.entries(file?.namespaces ?? {}).map(([name, options]) => [
      name,
      applyNamespace(namespaceDefaults, options),
    ]),
  );
  const apiKey = values.apiKey ?? generateSecret();
  const host = values.host ?? CONFIG_DEFAULTS.host;
  // Not open by default where the network can reach it: off the loopback, only with a password of its own.
  const dashboardMode = values.dashboard ?? 'auto';
  const dashboard =
    dashboardMode === 'on' ||
    (dashboardMode === 'auto' && (isLoopback(host) || values.adminPassword !== undefined));
  // An app that signs tokens with its own key pair needs no secret: generating one would only open a
  // second, unused way in (and print it).
  const ownKeys = values.tokenPublicKey !== undefined || values.tokenJwksUrl !== undefined;
  const tokenSecret = values.tokenSecret ?? (ownKeys ? undefined : generateSecret());
  return {
    port: values.port ?? CONFIG_DEFAULTS.port,
    host,
    ...(values.redisUrl === undefined ? {} : { redisUrl: values.redisUrl }),
    ...(values.redisClusterNodes === undefined ? {} : { redisClusterNodes: values.redisClusterNodes }),
    redisPrefix: values.redisPrefix ?? CONFIG_DEFAULTS.redisPrefix,
    apiKey,
    ...(values.adminPassword === undefined ? {} : { adminPassword: values.adminPassword }),
    dashboard,
    ...(tokenSecret === undefined ? {} : { tokenSecret }),
    generated: {
      apiKey: values.apiKey === undefined,
      tokenSecret: values.tokenSecret === undefined && !ownKeys,
    },
    ...(values.tokenPublicKey === undefined ? {} : { tokenPublicKey: values.tokenPublicKey }),
    ...(values.tokenJwksUrl === undefined ? {} : { tokenJwksUrl: values.tokenJwksUrl }),
    ...(values.tokenIssuer === undefined ? {} : { tokenIssuer: values.tokenIssuer }),
    ...(values.tokenAudience === undefined ? {} : { tokenAudience: values.tokenAudience }),
    tokenClockToleranceMs: values.tokenClockTolerance ?? CONFIG_DEFAULTS.tokenClockToleranceMs,
    allowedOrigins: values.allowedOrigins ?? CONFIG_DEFAULTS.allowedOrigins,
    maxFrameBytes: values.maxFrameSize ?? CONFIG_DEFAULTS.maxFrameBytes,
    maxOutboundBytes: values.maxOutboundBuffer ?? CONFIG_DEFAULTS.maxOutboundBytes,
    maxSubscriptionsPerConnection:
      values.maxSubscriptionsPerConnection ?? CONFIG_DEFAULTS.maxSubscriptionsPerConnection,
    maxConnectionsPerUser: values.maxConnectionsPerUser ?? CONFIG_DEFAULTS.maxConnectionsPerUser,
    commandRate: values.commandRate ?? CONFIG_DEFAULTS.commandRate,
    publishRate: values.publishRate ?? CONFIG_DEFAULTS.publishRate,
    presenceTtlMs: values.presenceTtl ?? CONFIG_DEFAULTS.presenceTtlMs,
    pingIntervalMs: values.pingInterval ?? CONFIG_DEFAULTS.pingIntervalMs,
    pongTimeoutMs: values.pongTimeout ?? CONFIG_DEFAULTS.pongTimeoutMs,
    connectTimeoutMs: values.connectTimeout ?? CONFIG_DEFAULTS.connectTimeoutMs,
    headersTimeoutMs: values.headersTimeout ?? CONFIG_DEFAULTS.headersTimeoutMs,
    requestTimeoutMs: values.requestTimeout ?? CONFIG_DEFAULTS.requestTimeoutMs,
    drainPeriodMs: values.drainPeriod ?? CONFIG_DEFAULTS.drainPeriodMs,
    trustProxy: values.trustProxy ?? CONFIG_DEFAULTS.trustProxy,
    historyMaxLimit: values.historyMaxLimit ?? CONFIG_DEFAULTS.historyMaxLimit,
    idempotencyTtlMs: values.idempotencyTtl ?? CONFIG_DEFAULTS.idempotencyTtlMs,
    positionCheckIntervalMs: values.positionCheckInterval ?? CONFIG_DEFAULTS.positionCheckIntervalMs,
    deliveryCheckIntervalMs: values.deliveryCheckInterval ?? CONFIG_DEFAULTS.deliveryCheckIntervalMs,
    nodeName: values.nodeName ?? hostname(),
    logLevel: values.logLevel ?? CONFIG_DEFAULTS.logLevel,
    workers: values.workers === 'auto' ? availableParallelism() : (values.workers ?? CONFIG_DEFAULTS.workers),
    namespaceDefaults,
    namespaces,
  };
}

/** A namespace's options: the fields it sets, the rest from `base`. */
function applyNamespace(base: NamespaceOptions, patch: NamespaceInput): NamespaceOptions {
  return {
    historySize: patch.historySize ?? base.historySize,
    historyTtlMs: patch.historyTtl ?? base.historyTtlMs,
    clientPublish: patch.clientPublish ?? base.clientPublish,
    anonymousSubscribe: patch.anonymousSubscribe ?? base.anonymousSubscribe,
    subscribe: patch.subscribe ?? base.subscribe,
    clientHistory: patch.clientHistory ?? base.clientHistory,
    clientPresence: patch.clientPresence ?? base.clientPresence,
    personal: patch.personal ?? base.personal,
    presence: patch.presence ?? base.presence,
    joinLeave: patch.joinLeave ?? base.joinLeave,
  };
}

/** Whether `host` is reachable from this machine only. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** 24 random bytes: 192 bits for the API key; as 32 base64url characters, a 256-bit HS256 key. */
function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}
