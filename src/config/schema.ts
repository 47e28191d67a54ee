/**
 * The shape of Herald's configuration as written by people: the config file's keys, with durations and
 * sizes still in their written forms. Every source (file, environment, flags) is validated against these
 * schemas, so one rule gives one error message wherever the value came from. Messages complete the
 * sentence "<key> (<source>): …".
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { algorithmsForPublicKey } from '../auth/token-keys.ts';
import { SUBSCRIBE_ACCESS } from '../core/namespace.ts';
import { parseDuration, parseSize } from './units.ts';

/** The longest delay Node's timers accept (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** HS256 needs a key of at least 256 bits (RFC 7518, section 3.2). */
export const MIN_TOKEN_SECRET_BYTES = 32;
export const MIN_API_KEY_LENGTH = 16;
/** Namespace names: channel characters without `:` (the separator), 1–64 of them. */
export const NAMESPACE_NAME = /^[A-Za-z0-9_\-.@=/+]{1,64}$/;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Most worker processes `workers` accepts: far above any core count, low enough to stop a typo forking thousands. */
export const MAX_WORKERS = 1024;

function integer(min: number, max?: number) {
  const message =
    max === undefined ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`;
  const schema = z.number({ error: message }).int({ error: message }).min(min, { error: message });
  return max === undefined ? schema : schema.max(max, { error: message });
}

/** A duration: a number of milliseconds or a string such as "500ms", "25s", "10m", "1h", "2d". */
function duration(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}ms` : `from ${min}ms to ${max}ms`;
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a duration: milliseconds, or a number with a unit ms, s, m, h or d (e.g. "25s"); got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be a duration ${range}; got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A size: a number of bytes or a string such as "512B", "64KiB", "4MiB", "1GB". */
function size(min: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes < min) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a size of at least ${min} bytes: bytes, or a number with a unit B, KiB, MiB, GiB, KB, MB or GB (e.g. "64KiB"); got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}

/** Worker processes: an integer, or "auto" (one per core), which load.ts resolves on this machine. */
const workers = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (value === 'auto') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_WORKERS)
    return value;
  ctx.addIssue({
    code: 'custom',
    message: `must be an integer from 1 to ${MAX_WORKERS}, or auto (one per core); got ${JSON.stringify(value)}`,
  });
  return z.NEVER;
});

/**
 * Which proxies' X-Forwarded-For / X-Forwarded-Proto to believe: `true` (any: Herald is reachable only
 * through the proxy), a hop count, or the proxies' addresses or CIDR ranges, comma-separated.
 */
const trustProxy = z
  .union([z.boolean(), z.number(), z.string(), z.array(z.string())])
  .transform((value, ctx): boolean | number | string[] => {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    if (value === 'true' || value === 'false') return value === 'true';
    if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value);
    const list = typeof value === 'string' ? splitList(value) : Array.isArray(value) ? value : [];
    const address = /^[0-9A-Fa-f.:]+(\/\d{1,3})?$/;
    if (list.length > 0 && list.every((item) => address.test(item))) return list;
    ctx.addIssue({
      code: 'custom',
      message: `must be true, false, a number of proxies, or their addresses / CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1); got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  });

const nonEmptyText = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' });

const redisUrl = z.string({ error: 'must be a string' }).refine(
  (value) => {
    if (!URL.canParse(value)) return false;
    const { protocol, hostname } = new URL(value);
    return (protocol === 'redis:' || protocol === 'rediss:') && hostname !== '';
  },
  { error: 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379' },
);

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/;
const clusterNode = z.string({ error: 'must be strings' }).refine(
  (value) => {
    const port = Number(HOST_PORT.exec(value)?.[2] ?? 0);
    return port >= 1 && port <= 65535;
  },
  { error: (issue) => `${JSON.stringify(issue.input)} is not host:port (e.g. 10.0.0.5:7000)` },
);
/** Seed nodes: an array of "host:port", or one comma-separated string of them. */
const clusterNodes = z
  .union([z.array(z.string()), z.string()], {
    error: 'must be an array of "host:port" or a comma-separated string',
  })
  .transform((value) => (typeof value === 'string' ? splitList(value) : value))
  .pipe(z.array(clusterNode).min(1, { error: 'must list at least one host:port' }));

const origin = z
  .string({ error: 'must be strings' })
  .refine((value) => value === '*' || (URL.canParse(value) && new URL(value).origin === value), {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not an origin: scheme, host and optional port without a path or trailing slash (e.g. https://app.example.com), or * for any`,
  });

const apiKey = z
  .string({ error: 'must be a string' })
  .min(MIN_API_KEY_LENGTH, { error: `must be at least ${MIN_API_KEY_LENGTH} characters` });

const tokenSecret = z
  .string({ error: 'must be a string' })
  .refine((value) => Buffer.byteLength(value, 'utf8') >= MIN_TOKEN_SECRET_BYTES, {
    error: `must be at least ${MIN_TOKEN_SECRET_BYTES} bytes (HS256 needs a 256-bit key); generate one with: openssl rand -base64 32`,
  });

/**
 * A PEM public key, inline (starting with -----BEGIN) or the path of a file holding one; read and
 * checked at start, so a wrong key stops Herald instead of refusing every client.
 */
const tokenPublicKey = nonEmptyText.transform((value, ctx) => {
  let pem = value;
  if (!value.startsWith('-----BEGIN')) {
    try {
      pem = readFileSync(value, 'utf8');
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a PEM public key or the path of a file holding one; cannot read ${JSON.stringify(value)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      });
      return z.NEVER;
    }
  }
  try {
    algorithmsForPublicKey(pem);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `is ${(err as Error).message}` });
    return z.NEVER;
  }
  return pem;
});

const httpUrl = nonEmptyText.refine(
  (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
  {
    error: (issue) => `must be an http:// or https:// URL; got ${JSON.stringify(issue.input)}`,
  },
);

/** `auto`: on when Herald listens on loopback only or an admin password is set. */
export const DASHBOARD_MODES = ['auto', 'on', 'off'] as const;

const boolean = z.boolean({ error: 'must be true or false' });

/** The options of one namespace; every field is optional and inherits from `namespaceDefaults`. */
export const namespaceInputSchema = z.strictObject(
  {
    historySize: integer(0).optional(),
    historyTtl: duration(1).optional(),
    clientPublish: boolean.optional(),
    anonymousSubscribe: boolean.optional(),
    subscribe: z
      .enum(SUBSCRIBE_ACCESS, { error: `must be one of ${SUBSCRIBE_ACCESS.join(', ')}` })
      .optional(),
    clientHistory: boolean.optional(),
    clientPresence: boolean.optional(),
    personal: boolean.optional(),
    presence: boolean.optional(),
    joinLeave: boolean.optional(),
  },
  { error: 'must be an object' },
);
export type NamespaceInput = z.output<typeof namespaceInputSchema>;

const namespaceName = z.string().regex(NAMESPACE_NAME, {
  error: 'namespace names are 1-64 characters from A-Z a-z 0-9 _ - . @ = / + (no ":")',
});

const namespaces = z.record(namespaceName, namespaceInputSchema, { error: 'must be an object' });

/** Every setting that the environment and flags can also give; all optional, defaults come later. */
const scalarShape = {
  port: integer(0, 65535).optional(),
  host: nonEmptyText.optional(),
  redisUrl: redisUrl.optional(),
  redisClusterNodes: clusterNodes.optional(),
  redisPrefix: z
    .string({ error: 'must be a string' })
    .regex(/^[A-Za-z0-9_\-.:]{1,64}$/, { error: 'must be 1-64 characters from A-Z a-z 0-9 _ - . :' })
    .optional(),
  apiKey: apiKey.optional(),
  adminPassword: z
    .string({ error: 'must be a string' })
    .min(MIN_API_KEY_LENGTH, { error: `must be at least ${MIN_API_KEY_LENGTH} characters` })
    .optional(),
  dashboard: z.enum(DASHBOARD_MODES, { error: `must be one of ${DASHBOARD_MODES.join(', ')}` }).optional(),
  tokenSecret: tokenSecret.optional(),
  tokenPublicKey: tokenPublicKey.optional(),
  tokenJwksUrl: httpUrl.optional(),
  tokenIssuer: nonEmptyText.optional(),
  tokenAudience: nonEmptyText.optional(),
  tokenClockTolerance: duration(0, 300_000).optional(),
  allowedOrigins: z.array(origin, { error: 'must be an array of origins' }).optional(),
  maxFrameSize: size(1).optional(),
  maxOutboundBuffer: size(1).optional(),
  maxSubscriptionsPerConnection: integer(1).optional(),
  maxConnectionsPerUser: integer(0).optional(),
  commandRate: integer(0).optional(),
  publishRate: integer(0).optional(),
  presenceTtl: duration(1000, 3_600_000).optional(),
  pingInterval: duration(1, MAX_TIMER_MS).optional(),
  pongTimeout: duration(1, MAX_TIMER_MS).optional(),
  connectTimeout: duration(1, MAX_TIMER_MS).optional(),
  headersTimeout: duration(1, MAX_TIMER_MS).optional(),
  requestTimeout: duration(1, MAX_TIMER_MS).optional(),
  drainPeriod: duration(0, 3_600_000).optional(),
  trustProxy: trustProxy.optional(),
  historyMaxLimit: integer(1).optional(),
  idempotencyTtl: duration(1).optional(),
  positionCheckInterval: duration(100, MAX_TIMER_MS).optional(),
  deliveryCheckInterval: duration(50, 60_000).optional(),
  nodeName: nonEmptyText.max(128, { error: 'must be at most 128 characters' }).optional(),
  logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  workers: workers.optional(),
};

export const scalarsSchema = z.strictObject(scalarShape);
export type ScalarValues = z.output<typeof scalarsSchema>;
export type ScalarKey = keyof ScalarValues;

/** The whole config file. Unknown keys are errors, so a typo cannot silently fall back to a default. */
export const fileSchema = z.strictObject(
  { ...scalarShape, namespaceDefaults: namespaceInputSchema.optional(), namespaces: namespaces.optional() },
  { error: 'must be a JSON object' },
);
export type FileValues = z.output<typeof fileSchema>;

/** How a setting is spelled outside the file, and how its string form is read. */
export interface ScalarName {
  /** Environment variable. */
  readonly env: string;
  /** Command-line flag, kebab-case without the leading dashes. */
  readonly flag: string;
  /** `int`: digits become a number; `list`: comma-separated; `text`: taken as is. */
  readonly kind: 'int' | 'list' | 'text';
}

export const SCALAR_NAMES: Readonly<Record<ScalarKey, ScalarName>> = {
  port: { env: 'HERALD_PORT', flag: 'port', kind: 'int' },
  host: { env: 'HERALD_HOST', flag: 'host', kind: 'text' },
  redisUrl: { env: 'HERALD_REDIS_URL', flag: 'redis-url', kind: 'text' },
  redisClusterNodes: { env: 'HERALD_REDIS_CLUSTER_NODES', flag: 'redis-cluster-nodes', kind: 'list' },
  redisPrefix: { env: 'HERALD_REDIS_PREFIX', flag: 'redis-prefix', kind: 'text' },
  apiKey: { env: 'HERALD_API_KEY', flag: 'api-key', kind: 'text' },
  adminPassword: { env: 'HERALD_ADMIN_PASSWORD', flag: 'admin-password', kind: 'text' },
  dashboard: { env: 'HERALD_DASHBOARD', flag: 'dashboard', kind: 'text' },
  tokenSecret: { env: 'HERALD_TOKEN_SECRET', flag: 'token-secret', kind: 'text' },
  tokenPublicKey: { env: 'HERALD_TOKEN_PUBLIC_KEY', flag: 'token-public-key', kind: 'text' },
  tokenJwksUrl: { env: 'HERALD_TOKEN_JWKS_URL', flag: 'token-jwks-url', kind: 'text' },
  tokenIssuer: { env: 'HERALD_TOKEN_ISSUER', flag: 'token-issuer', kind: 'text' },
  tokenAudience: { env: 'HERALD_TOKEN_AUDIENCE', flag: 'token-audience', kind: 'text' },
  tokenClockTolerance: { env: 'HERALD_TOKEN_CLOCK_TOLERANCE', flag: 'token-clock-tolerance', kind: 'text' },
  allowedOrigins: { env: 'HERALD_ALLOWED_ORIGINS', flag: 'allowed-origins', kind: 'list' },
  maxFrameSize: { env: 'HERALD_MAX_FRAME_SIZE', flag: 'max-frame-size', kind: 'text' },
  maxOutboundBuffer: { env: 'HERALD_MAX_OUTBOUND_BUFFER', flag: 'max-outbound-buffer', kind: 'text' },
  maxSubscriptionsPerConnection: { env: 'HERALD_MAX_SUBSCRIPTIONS', flag: 'max-subscriptions', kind: 'int' },
  maxConnectionsPerUser: {
    env: 'HERALD_MAX_CONNECTIONS_PER_USER',
    flag: 'max-connections-per-user',
    kind: 'int',
  },
  commandRate: { env: 'HERALD_COMMAND_RATE', flag: 'command-rate', kind: 'int' },
  publishRate: { env: 'HERALD_PUBLISH_RATE', flag: 'publish-rate', kind: 'int' },
  presenceTtl: { env: 'HERALD_PRESENCE_TTL', flag: 'presence-ttl', kind: 'text' },
  pingInterval: { env: 'HERALD_PING_INTERVAL', flag: 'ping-interval', kind: 'text' },
  pongTimeout: { env: 'HERALD_PONG_TIMEOUT', flag: 'pong-timeout', kind: 'text' },
  connectTimeout: { env: 'HERALD_CONNECT_TIMEOUT', flag: 'connect-timeout', kind: 'text' },
  headersTimeout: { env: 'HERALD_HEADERS_TIMEOUT', flag: 'headers-timeout', kind: 'text' },
  requestTimeout: { env: 'HERALD_REQUEST_TIMEOUT', flag: 'request-timeout', kind: 'text' },
  drainPeriod: { env: 'HERALD_DRAIN_PERIOD', flag: 'drain-period', kind: 'text' },
  trustProxy: { env: 'HERALD_TRUST_PROXY', flag: 'trust-proxy', kind: 'text' },
  historyMaxLimit: { env: 'HERALD_HISTORY_MAX_LIMIT', flag: 'history-max-limit', kind: 'int' },
  idempotencyTtl: { env: 'HERALD_IDEMPOTENCY_TTL', flag: 'idempotency-ttl', kind: 'text' },
  positionCheckInterval: {
    env: 'HERALD_POSITION_CHECK_INTERVAL',
    flag: 'position-check-interval',
    kind: 'text',
  },
  deliveryCheckInterval: {
    env: 'HERALD_DELIVERY_CHECK_INTERVAL',
    flag: 'delivery-check-interval',
    kind: 'text',
  },
  nodeName: { env: 'HERALD_NODE_NAME', flag: 'node-name', kind: 'text' },
  logLevel: { env: 'HERALD_LOG_LEVEL', flag: 'log-level', kind: 'text' },
  workers: { env: 'HERALD_WORKERS', flag: 'workers', kind: 'int' },
};

export const SCALAR_KEYS = Object.keys(SCALAR_NAMES) as ScalarKey[];

/** Splits "a, b,c" into ["a", "b", "c"], dropping empty items. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Reads an environment variable's or flag's string as the schema expects it. */
export function fromString(kind: ScalarName['kind'], value: string): unknown {
  if (kind === 'list') return splitList(value);
  if (kind === 'int') return /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  return value;
}
