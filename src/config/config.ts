/**
 * The resolved configuration every module reads. `loadConfig` (config/load.ts) builds it from flags,
 * HERALD_* environment variables and the config file, in that order of precedence.
 */
import type { NamespaceOptions } from '../core/namespace.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface HeraldConfig {
  /** HTTP port (HERALD_PORT). Default 8080; 0 picks a free port. */
  readonly port: number;
  /** Address to listen on (HERALD_HOST). Default 127.0.0.1: reachable from this machine only. */
  readonly host: string;
  /** Redis URL (HERALD_REDIS_URL); unset runs the embedded memory engine. */
  readonly redisUrl?: string;
  /** Redis Cluster seed nodes `host:port` (HERALD_REDIS_CLUSTER_NODES). */
  readonly redisClusterNodes?: readonly string[];
  /** Prefix of every Redis key and pub/sub channel (HERALD_REDIS_PREFIX), so that several Herald deployments can share one Redis. Default "herald:". */
  readonly redisPrefix: string;
  /** Key for the server API (HERALD_API_KEY). Generated and printed at start when unset. */
  readonly apiKey: string;
  /** A password for the dashboard's sign-in, besides the API key (HERALD_ADMIN_PASSWORD). */
  readonly adminPassword?: string;
  /**
   * Whether the dashboard (`/`) and the demo page (`/demo`) are served (HERALD_DASHBOARD: auto, on,
   * off). `auto`, the default: when Herald listens on loopback only, or an admin password is set.
   */
  readonly dashboard: boolean;
  /**
   * HMAC secret that client tokens are signed with (HERALD_TOKEN_SECRET). Generated when unset, unless
   * tokenPublicKey or tokenJwksUrl is set: then HMAC tokens are accepted only if a secret is given.
   */
  readonly tokenSecret?: string;
  /**
   * A PEM public key verifying tokens signed by the app's own key pair (HERALD_TOKEN_PUBLIC_KEY: the
   * PEM text or a file path): RSA (RS*, PS*), EC (the ES* of its curve) or Ed25519/Ed448 (EdDSA).
   */
  readonly tokenPublicKey?: string;
  /** A JWKS URL whose keys verify RS*, PS*, ES* and EdDSA tokens by `kid` (HERALD_TOKEN_JWKS_URL). */
  readonly tokenJwksUrl?: string;
  /** When set, tokens must carry this `iss` (HERALD_TOKEN_ISSUER). */
  readonly tokenIssuer?: string;
  /** When set, tokens' `aud` must be or include this (HERALD_TOKEN_AUDIENCE). */
  readonly tokenAudience?: string;
  /** Tolerated clock difference with the token issuer for `exp`, `nbf` and `iat`, ms. Default 5 s. */
  readonly tokenClockToleranceMs: number;
  /** Which of apiKey / tokenSecret were generated at start (and so must be printed). */
  readonly generated: { readonly apiKey: boolean; readonly tokenSecret: boolean };
  /**
   * Origins allowed to open browser connections (HERALD_ALLOWED_ORIGINS, comma-separated, `*` = any).
   * Default empty: only pages served by Herald itself (same origin) and non-browser clients.
   */
  readonly allowedOrigins: readonly string[];
  /** Largest frame a client may send, bytes (HERALD_MAX_FRAME_SIZE). Default 64 KiB. */
  readonly maxFrameBytes: number;
  /** Per-connection outbound buffer before a slow consumer is disconnected, bytes. Default 4 MiB. */
  readonly maxOutboundBytes: number;
  /** Subscriptions one connection may hold. Default 256. */
  readonly maxSubscriptionsPerConnection: number;
  /** Connections one user may hold on one node (HERALD_MAX_CONNECTIONS_PER_USER); 0 = no limit. Default 0. */
  readonly maxConnectionsPerUser: number;
  /** Commands a connection may send per second, bursts of twice that plus maxSubscriptionsPerConnection (HERALD_COMMAND_RATE); 0 = no limit. Default 100. */
  readonly commandRate: number;
  /** Publishes a connection may send per second, bursts of twice that (HERALD_PUBLISH_RATE); 0 = no limit. Default 20. */
  readonly publishRate: number;
  /**
   * How long a client stays in presence after its node last refreshed it, ms (HERALD_PRESENCE_TTL).
   * Nodes refresh their clients every third of it, so a node that dies drops out of presence within
   * this time. Default 30 s.
   */
  readonly presenceTtlMs: number;
  /** Interval between server pings, ms. Default 25 s. */
  readonly pingIntervalMs: number;
  /** How long a client may take to answer a ping, ms. Default 10 s. */
  readonly pongTimeoutMs: number;
  /** How long a new connection may take to send `connect`, ms. Default 10 s. */
  readonly connectTimeoutMs: number;
  /**
   * How long an HTTP client may take to send a request's headers, ms (HERALD_HEADERS_TIMEOUT), so that
   * slowloris clients (headers a byte at a time, or nothing at all) cannot hold sockets. Counted from
   * the first byte of the request, or from the connection for a new one; at most requestTimeoutMs.
   * Default 10 s.
   */
  readonly headersTimeoutMs: number;
  /**
   * How long an HTTP client may take to send a whole request, headers and body, ms
   * (HERALD_REQUEST_TIMEOUT): a body trickling in is cut off. Open WebSocket connections and SSE
   * streams are not limited by it, nor are responses. Default 30 s.
   */
  readonly requestTimeoutMs: number;
  /**
   * How long a node shutting down (SIGTERM/SIGINT) takes to tell its clients to reconnect elsewhere,
   * ms (HERALD_DRAIN_PERIOD): it disconnects them (3001) a few at a time over this period, so their
   * reconnects do not all land on the other nodes at once. 0 disconnects everyone at once. Default 10 s.
   */
  readonly drainPeriodMs: number;
  /**
   * Which proxies' X-Forwarded-For and X-Forwarded-Proto are believed (HERALD_TRUST_PROXY): false
   * (default), true (any), a hop count, or addresses / CIDR ranges. Client addresses (sign-in rate
   * limits, logs) and whether a browser came over HTTPS (the dashboard cookie's Secure flag) use them.
   */
  readonly trustProxy: boolean | number | readonly string[];
  /** Most publications one history call returns. Default 1000. */
  readonly historyMaxLimit: number;
  /** How long an idempotency key is remembered, ms. Default 5 minutes. */
  readonly idempotencyTtlMs: number;
  /**
   * How often the node compares every channel it follows with the engine's position, repairs
   * publications pub/sub lost and renews dead engine subscriptions, ms (HERALD_POSITION_CHECK_INTERVAL).
   * Default 15 s: the longest a lost last publication can stay unnoticed when nothing follows it.
   * Each check costs one Redis read per followed channel.
   */
  readonly positionCheckIntervalMs: number;
  /**
   * How often the node sends itself a probe through the engine to check that publications still
   * reach it, ms (HERALD_DELIVERY_CHECK_INTERVAL). A probe not back within three intervals marks the
   * node not ready and renews its subscriber connection. Default 1 s.
   */
  readonly deliveryCheckIntervalMs: number;
  /** This node's name in info and logs (HERALD_NODE_NAME). Default the host name. */
  readonly nodeName: string;
  /** Log level (HERALD_LOG_LEVEL). Default info. */
  readonly logLevel: LogLevel;
  /**
   * Worker processes serving the one port (HERALD_WORKERS), `auto` resolved to
   * `os.availableParallelism()`. Default 1: one process, no supervisor. More than one needs the Redis
   * engine, because only through Redis do the workers see each other's channels.
   */
  readonly workers: number;
  /** Options of channels whose namespace has no entry in `namespaces`. */
  readonly namespaceDefaults: NamespaceOptions;
  /** Options per namespace; missing fields are taken from `namespaceDefaults`. */
  readonly namespaces: Readonly<Record<string, NamespaceOptions>>;
}
