import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_OPTIONS } from '../core/namespace.ts';
import { ConfigError, loadConfig } from './load.ts';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'herald-config-'));
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function writeConfig(content: unknown, name = 'herald.config.json'): string {
  writeFileSync(join(cwd, name), typeof content === 'string' ? content : JSON.stringify(content));
  return name;
}

function load(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {}) {
  return loadConfig({ flags: sources.flags ?? {}, env: sources.env ?? {}, cwd });
}

/** The ConfigError that loading throws. */
function loadError(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {}): ConfigError {
  try {
    load(sources);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const SECRET = 'x'.repeat(32);

describe('defaults', () => {
  it('starts with secure defaults when nothing is configured', () => {
    const config = load();
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      allowedOrigins: [],
      maxFrameBytes: 65536,
      maxOutboundBytes: 4 * 1024 * 1024,
      maxSubscriptionsPerConnection: 256,
      pingIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      drainPeriodMs: 10_000,
      historyMaxLimit: 1000,
      idempotencyTtlMs: 300_000,
      nodeName: hostname(),
      logLevel: 'info',
      workers: 1,
      namespaceDefaults: DEFAULT_NAMESPACE_OPTIONS,
      namespaces: {},
      generated: { apiKey: true, tokenSecret: true },
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisClusterNodes).toBeUndefined();
    expect('redisUrl' in config).toBe(false);
  });

  it('generates strong, distinct secrets when none are set', () => {
    const first = load();
    const second = load();
    expect(first.apiKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(first.tokenSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(first.apiKey).not.toBe(first.tokenSecret);
    expect(second.apiKey).not.toBe(first.apiKey);
    expect(second.tokenSecret).not.toBe(first.tokenSecret);
  });

  it('marks configured secrets as not generated', () => {
    const config = load({ env: { HERALD_API_KEY: 'k'.repeat(16), HERALD_TOKEN_SECRET: SECRET } });
    expect(config).toMatchObject({
      apiKey: 'k'.repeat(16),
      tokenSecret: SECRET,
      generated: { apiKey: false, tokenSecret: false },
    });
  });

  it('generates only the secret that is missing', () => {
    const config = load({ flags: { apiKey: 'k'.repeat(20) } });
    expect(config.generated).toEqual({ apiKey: false, tokenSecret: true });
  });
});

describe('precedence', () => {
  it('takes flags over environment over file over defaults', () => {
    writeConfig({ port: 1000, host: '0.0.0.0', nodeName: 'from-file', logLevel: 'warn' });
    const env = { HERALD_PORT: '2000', HERALD_NODE_NAME: 'from-env' };
    const config = load({ env, flags: { port: '3000' } });
    expect(config.port).toBe(3000);
    expect(config.nodeName).toBe('from-env');
    expect(config.host).toBe('0.0.0.0');
    expect(config.logLevel).toBe('warn');
    expect(config.pingIntervalMs).toBe(25_000);
    expect(load({ env }).port).toBe(2000);
    expect(load().port).toBe(1000);
  });

  it('treats an empty environment variable as unset', () => {
    writeConfig({ port: 1000 });
    expect(load({ env: { HERALD_PORT: '' } }).port).toBe(1000);
  });

  it('reads the file named by --config, over HERALD_CONFIG, over herald.config.json', () => {
    writeConfig({ port: 1 });
    writeConfig({ port: 2 }, 'env.json');
    writeConfig({ port: 3 }, 'flag.json');
    expect(load().port).toBe(1);
    expect(load({ env: { HERALD_CONFIG: 'env.json' } }).port).toBe(2);
    expect(load({ env: { HERALD_CONFIG: 'env.json' }, flags: { config: 'flag.json' } }).port).toBe(3);
    expect(load({ flags: { config: join(cwd, 'flag.json') } }).port).toBe(3);
  });

  it('is fine without a default config file but not without an explicit one', () => {
    expect(load().port).toBe(8080);
    const flagError = loadError({ flags: { config: 'missing.json' } });
    expect(flagError.key).toBe('--config');
    expect(flagError.message).toBe(
      `invalid configuration: --config (command line): file not found: ${join(cwd, 'missing.json')}`,
    );
    const envError = loadError({ env: { HERALD_CONFIG: 'missing.json' } });
    expect(envError.key).toBe('HERALD_CONFIG');
    expect(envError.message).toContain('HERALD_CONFIG (environment): file not found');
  });

  it('ignores flags that are not configuration', () => {
    expect(load({ flags: { port: '81', somethingElse: 'x' } }).port).toBe(81);
  });
});

describe('errors name the key and its source', () => {
  it('in the config file, with the full path of the key', () => {
    writeConfig({ namespaces: { chat: { historySize: -1 } } });
    const error = loadError();
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.key).toBe('namespaces.chat.historySize');
    expect(error.source).toBe('herald.config.json');
    expect(error.message).toBe(
      'invalid configuration: namespaces.chat.historySize (herald.config.json): must be an integer >= 0',
    );
  });

  it('in the environment', () => {
    const error = loadError({ env: { HERALD_PORT: '70000' } });
    expect(error.key).toBe('HERALD_PORT');
    expect(error.message).toBe(
      'invalid configuration: HERALD_PORT (environment): must be an integer from 0 to 65535',
    );
    expect(loadError({ env: { HERALD_PORT: '80abc' } }).message).toContain(
      'must be an integer from 0 to 65535',
    );
  });

  it('on the command line', () => {
    const error = loadError({ flags: { maxSubscriptions: '0' } });
    expect(error.key).toBe('--max-subscriptions');
    expect(error.message).toBe(
      'invalid configuration: --max-subscriptions (command line): must be an integer >= 1',
    );
  });

  it('names the file as it was given', () => {
    writeConfig({ port: 'eighty' }, 'custom.json');
    expect(loadError({ flags: { config: 'custom.json' } }).message).toBe(
      'invalid configuration: port (custom.json): must be an integer from 0 to 65535',
    );
  });

  it('reports a file that is not JSON', () => {
    writeConfig('{ "port": 80, }');
    const error = loadError();
    expect(error.message).toMatch(
      /^invalid configuration: herald\.config\.json \(config file\): not valid JSON: /,
    );
  });

  it('reports a file that is not an object', () => {
    writeConfig([1, 2]);
    expect(loadError().message).toContain('must be a JSON object');
  });

  it('rejects unknown keys, suggesting the intended one', () => {
    writeConfig({ prot: 80 });
    expect(loadError().message).toBe(
      'invalid configuration: prot (herald.config.json): unknown key (did you mean "port"?)',
    );
    writeConfig({ maxFrameBytes: 1024 });
    expect(loadError().message).toContain(
      'maxFrameBytes (herald.config.json): unknown key (did you mean "maxFrameSize"?)',
    );
    writeConfig({ totallyUnrelated: true });
    expect(loadError().message).toBe(
      'invalid configuration: totallyUnrelated (herald.config.json): unknown key',
    );
  });

  it('rejects unknown keys inside namespaces', () => {
    writeConfig({ namespaces: { chat: { histroySize: 5 } } });
    const error = loadError();
    expect(error.key).toBe('namespaces.chat.histroySize');
    expect(error.message).toContain('unknown key (did you mean "historySize"?)');
    writeConfig({ namespaceDefaults: { historyTtlMs: 5 } });
    expect(loadError().message).toContain('namespaceDefaults.historyTtlMs (herald.config.json): unknown key');
  });

  it('rejects namespace names that are not allowed', () => {
    writeConfig({ namespaces: { 'chat:room': {} } });
    const error = loadError();
    expect(error.key).toBe('namespaces["chat:room"]');
    expect(error.message).toContain('no ":"');
    writeConfig({ namespaces: { ['x'.repeat(65)]: {} } });
    expect(loadError().message).toContain('1-64 characters');
  });

  it('rejects a log level that does not exist', () => {
    expect(loadError({ env: { HERALD_LOG_LEVEL: 'verbose' } }).message).toBe(
      'invalid configuration: HERALD_LOG_LEVEL (environment): must be one of fatal, error, warn, info, debug, trace, silent',
    );
  });

  it('rejects wrong types in the file', () => {
    writeConfig({ namespaceDefaults: { clientPublish: 'yes' } });
    expect(loadError().message).toBe(
      'invalid configuration: namespaceDefaults.clientPublish (herald.config.json): must be true or false',
    );
    writeConfig({ allowedOrigins: 'https://a.example' });
    expect(loadError().message).toContain('allowedOrigins (herald.config.json): must be an array of origins');
  });
});

describe('durations and sizes', () => {
  it('reads units from every source', () => {
    writeConfig({
      pingInterval: '30s',
      connectTimeout: 2500,
      maxOutboundBuffer: '8MiB',
      idempotencyTtl: '1h',
    });
    const config = load({
      env: { HERALD_PONG_TIMEOUT: '5s', HERALD_MAX_FRAME_SIZE: '1MiB' },
      flags: { connectTimeout: '500ms' },
    });
    expect(config.pingIntervalMs).toBe(30_000);
    expect(config.pongTimeoutMs).toBe(5000);
    expect(config.connectTimeoutMs).toBe(500);
    expect(config.idempotencyTtlMs).toBe(3_600_000);
    expect(config.maxFrameBytes).toBe(1024 * 1024);
    expect(config.maxOutboundBytes).toBe(8 * 1024 * 1024);
  });

  it('takes a drain period of 0 (disconnect at once) and refuses one over an hour', () => {
    expect(load({ env: { HERALD_DRAIN_PERIOD: '0' } }).drainPeriodMs).toBe(0);
    expect(load({ flags: { drainPeriod: '2.5s' } }).drainPeriodMs).toBe(2500);
    expect(loadError({ env: { HERALD_DRAIN_PERIOD: '2h' } }).message).toContain(
      'HERALD_DRAIN_PERIOD (environment): must be a duration from 0ms to 3600000ms',
    );
  });

  it('reads a bare number in the environment as milliseconds or bytes', () => {
    const config = load({ env: { HERALD_PING_INTERVAL: '1000', HERALD_MAX_FRAME_SIZE: '2048' } });
    expect(config.pingIntervalMs).toBe(1000);
    expect(config.maxFrameBytes).toBe(2048);
  });

  it('explains what a duration or size looks like', () => {
    expect(loadError({ env: { HERALD_PING_INTERVAL: '5 minutes' } }).message).toBe(
      'invalid configuration: HERALD_PING_INTERVAL (environment): must be a duration: milliseconds, or a number with a unit ms, s, m, h or d (e.g. "25s"); got "5 minutes"',
    );
    expect(loadError({ flags: { maxFrameSize: 'big' } }).message).toContain(
      '--max-frame-size (command line): must be a size of at least 1 bytes',
    );
    writeConfig({ namespaces: { chat: { historyTtl: '0s' } } });
    expect(loadError().message).toContain(
      'namespaces.chat.historyTtl (herald.config.json): must be a duration >= 1ms',
    );
  });

  it('refuses timer durations that Node cannot schedule', () => {
    expect(loadError({ env: { HERALD_PING_INTERVAL: '30d' } }).message).toContain(
      'must be a duration from 1ms to 2147483647ms',
    );
  });
});

describe('namespaces', () => {
  it('inherits missing fields from namespaceDefaults, which inherit from the built-in defaults', () => {
    writeConfig({
      namespaceDefaults: { historySize: 50 },
      namespaces: {
        chat: { clientPublish: true },
        feed: { historySize: 0, historyTtl: '1h', anonymousSubscribe: true },
        'a.b-c_d@e=f/g+h': {},
      },
    });
    const config = load();
    expect(config.namespaceDefaults).toEqual({ ...DEFAULT_NAMESPACE_OPTIONS, historySize: 50 });
    expect(config.namespaces['chat']).toEqual({
      ...DEFAULT_NAMESPACE_OPTIONS,
      historySize: 50,
      clientPublish: true,
    });
    expect(config.namespaces['feed']).toEqual({
      ...DEFAULT_NAMESPACE_OPTIONS,
      historySize: 0,
      historyTtlMs: 3_600_000,
      clientPublish: false,
      anonymousSubscribe: true,
    });
    expect(config.namespaces['a.b-c_d@e=f/g+h']).toEqual(config.namespaceDefaults);
  });
});

describe('lists, Redis and secrets', () => {
  it('reads allowed origins from an array or a comma-separated variable', () => {
    writeConfig({ allowedOrigins: ['https://app.example.com', 'http://localhost:5173'] });
    expect(load().allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(load({ env: { HERALD_ALLOWED_ORIGINS: 'https://a.example, *' } }).allowedOrigins).toEqual([
      'https://a.example',
      '*',
    ]);
  });

  it('rejects origins with a path', () => {
    const error = loadError({ env: { HERALD_ALLOWED_ORIGINS: 'https://a.example/' } });
    expect(error.key).toBe('HERALD_ALLOWED_ORIGINS');
    expect(error.message).toContain('"https://a.example/" is not an origin');
    writeConfig({ allowedOrigins: ['https://ok.example', 'nope'] });
    expect(loadError().key).toBe('allowedOrigins[1]');
  });

  it('accepts redis:// and rediss:// URLs only', () => {
    expect(load({ env: { HERALD_REDIS_URL: 'rediss://user:pw@redis.example:6380/2' } }).redisUrl).toBe(
      'rediss://user:pw@redis.example:6380/2',
    );
    expect(loadError({ flags: { redisUrl: 'http://localhost:6379' } }).message).toBe(
      'invalid configuration: --redis-url (command line): must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379',
    );
  });

  it('reads cluster nodes from an array, a comma string or the environment', () => {
    writeConfig({ redisClusterNodes: ['10.0.0.1:7000', '[::1]:7001'] });
    expect(load().redisClusterNodes).toEqual(['10.0.0.1:7000', '[::1]:7001']);
    writeConfig({ redisClusterNodes: 'a:7000,b:7001' });
    expect(load().redisClusterNodes).toEqual(['a:7000', 'b:7001']);
    expect(load({ env: { HERALD_REDIS_CLUSTER_NODES: 'c:7000, d:7001' } }).redisClusterNodes).toEqual([
      'c:7000',
      'd:7001',
    ]);
  });

  it('rejects cluster nodes that are not host:port', () => {
    expect(loadError({ env: { HERALD_REDIS_CLUSTER_NODES: 'a:7000,b' } }).message).toBe(
      'invalid configuration: HERALD_REDIS_CLUSTER_NODES (environment): "b" is not host:port (e.g. 10.0.0.5:7000)',
    );
    expect(loadError({ flags: { redisClusterNodes: 'a:99999' } }).key).toBe('--redis-cluster-nodes');
    expect(loadError({ flags: { redisClusterNodes: ',' } }).message).toContain('at least one host:port');
  });

  it('refuses a Redis URL together with cluster nodes, naming both', () => {
    writeConfig({ redisUrl: 'redis://localhost:6379' });
    const error = loadError({ env: { HERALD_REDIS_CLUSTER_NODES: 'a:7000' } });
    expect(error.key).toBe('HERALD_REDIS_CLUSTER_NODES');
    expect(error.message).toBe(
      'invalid configuration: HERALD_REDIS_CLUSTER_NODES (environment): cannot be combined with redisUrl (herald.config.json): set a Redis URL for one server or cluster seed nodes, not both',
    );
  });

  it('refuses a token secret shorter than 256 bits', () => {
    const error = loadError({ env: { HERALD_TOKEN_SECRET: 'x'.repeat(31) } });
    expect(error.key).toBe('HERALD_TOKEN_SECRET');
    expect(error.message).toContain('must be at least 32 bytes');
    // Bytes, not characters: 16 two-byte characters are 32 bytes.
    expect(load({ env: { HERALD_TOKEN_SECRET: 'é'.repeat(16) } }).tokenSecret).toBe('é'.repeat(16));
  });

  it('refuses an API key shorter than 16 characters', () => {
    writeConfig({ apiKey: 'short' });
    expect(loadError().message).toBe(
      'invalid configuration: apiKey (herald.config.json): must be at least 16 characters',
    );
  });
});

describe('workers', () => {
  const REDIS = { HERALD_REDIS_URL: 'redis://127.0.0.1:6379' };

  it('reads a count from every source, flags first', () => {
    writeConfig({ workers: 2, redisUrl: 'redis://127.0.0.1:6379' });
    expect(load().workers).toBe(2);
    expect(load({ env: { HERALD_WORKERS: '3' } }).workers).toBe(3);
    expect(load({ env: { HERALD_WORKERS: '3' }, flags: { workers: '4' } }).workers).toBe(4);
  });

  it('reads auto as one worker per core', () => {
    expect(load({ env: REDIS, flags: { workers: 'auto' } }).workers).toBe(availableParallelism());
    writeConfig({ workers: 'auto', redisClusterNodes: ['127.0.0.1:7000'] });
    expect(load().workers).toBe(availableParallelism());
  });

  it('rejects anything but an integer from 1 to 1024 or auto, naming the key', () => {
    const expected = 'must be an integer from 1 to 1024, or auto (one per core)';
    expect(loadError({ env: REDIS, flags: { workers: '0' } }).message).toBe(
      `invalid configuration: --workers (command line): ${expected}; got 0`,
    );
    expect(loadError({ env: { ...REDIS, HERALD_WORKERS: 'abc' } }).message).toBe(
      `invalid configuration: HERALD_WORKERS (environment): ${expected}; got "abc"`,
    );
    for (const bad of ['-1', '1.5', '1025', 'AUTO', 'two']) {
      expect(loadError({ env: REDIS, flags: { workers: bad } }).key).toBe('--workers');
    }
    writeConfig({ workers: '2' });
    expect(loadError().message).toBe(
      `invalid configuration: workers (herald.config.json): ${expected}; got "2"`,
    );
  });

  it('refuses more than one worker on the memory engine, saying why and what to set', () => {
    const error = loadError({ flags: { workers: '2' } });
    expect(error.key).toBe('--workers');
    expect(error.message).toBe(
      "invalid configuration: --workers (command line): more than one worker needs the Redis engine (set HERALD_REDIS_URL or HERALD_REDIS_CLUSTER_NODES): workers on the memory engine would not see each other's channels",
    );
    writeConfig({ workers: 8 });
    expect(loadError().source).toBe('herald.config.json');
    expect(load({ env: REDIS }).workers).toBe(8);
  });

  it('accepts one worker on the memory engine, however it is written', () => {
    expect(load({ flags: { workers: '1' } }).workers).toBe(1);
    if (availableParallelism() === 1) {
      expect(load({ flags: { workers: 'auto' } }).workers).toBe(1);
    } else {
      expect(loadError({ env: { HERALD_WORKERS: 'auto' } }).message).toContain(
        `HERALD_WORKERS (environment): auto means ${availableParallelism()} workers on this machine, and more than one worker needs the Redis engine`,
      );
    }
  });
});

describe('trustProxy', () => {
  it('takes true/false, a hop count, or addresses and CIDR ranges', () => {
    expect(load().trustProxy).toBe(false);
    expect(load({ env: { HERALD_TRUST_PROXY: 'true' } }).trustProxy).toBe(true);
    expect(load({ env: { HERALD_TRUST_PROXY: '2' } }).trustProxy).toBe(2);
    expect(load({ env: { HERALD_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' } }).trustProxy).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
    ]);
    expect(loadError({ env: { HERALD_TRUST_PROXY: 'nginx' } }).message).toContain(
      'HERALD_TRUST_PROXY (environment): must be true, false, a number of proxies',
    );
  });
});

describe('dashboard', () => {
  it('is on for loopback, off elsewhere unless an admin password is set or it is switched on', () => {
    expect(load().dashboard).toBe(true);
    expect(load({ env: { HERALD_HOST: '0.0.0.0' } }).dashboard).toBe(false);
    expect(
      load({ env: { HERALD_HOST: '0.0.0.0', HERALD_ADMIN_PASSWORD: 'a-long-admin-password' } }).dashboard,
    ).toBe(true);
    expect(load({ env: { HERALD_HOST: '0.0.0.0', HERALD_DASHBOARD: 'on' } }).dashboard).toBe(true);
    expect(load({ env: { HERALD_DASHBOARD: 'off' } }).dashboard).toBe(false);
    expect(loadError({ env: { HERALD_DASHBOARD: 'yes' } }).message).toContain(
      'HERALD_DASHBOARD (environment): must be one of auto, on, off',
    );
    expect(loadError({ env: { HERALD_ADMIN_PASSWORD: 'short' } }).message).toContain(
      'must be at least 16 characters',
    );
  });
});

describe('token keys', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('takes a PEM public key inline or from a file, and the token claims to check', () => {
    writeFileSync(join(cwd, 'key.pem'), pem);
    const fromFile = load({ env: { HERALD_TOKEN_PUBLIC_KEY: join(cwd, 'key.pem') } });
    expect(fromFile.tokenPublicKey).toBe(pem);
    const inline = load({
      env: {
        HERALD_TOKEN_PUBLIC_KEY: pem,
        HERALD_TOKEN_ISSUER: 'https://app.example',
        HERALD_TOKEN_AUDIENCE: 'herald',
        HERALD_TOKEN_CLOCK_TOLERANCE: '30s',
        HERALD_TOKEN_JWKS_URL: 'https://id.example/.well-known/jwks.json',
      },
    });
    expect(inline).toMatchObject({
      tokenPublicKey: pem.trim(),
      tokenIssuer: 'https://app.example',
      tokenAudience: 'herald',
      tokenClockToleranceMs: 30_000,
      tokenJwksUrl: 'https://id.example/.well-known/jwks.json',
    });
    expect(load().tokenClockToleranceMs).toBe(5_000);
  });

  it('refuses a key that is not a PEM public key, a missing key file and a JWKS URL that is not http(s)', () => {
    expect(
      loadError({ env: { HERALD_TOKEN_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n' } }).message,
    ).toMatch(/HERALD_TOKEN_PUBLIC_KEY \(environment\): is not a PEM public key/);
    expect(loadError({ env: { HERALD_TOKEN_PUBLIC_KEY: join(cwd, 'missing.pem') } }).message).toMatch(
      /cannot read .*missing\.pem.*ENOENT/,
    );
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(loadError({ env: { HERALD_TOKEN_PUBLIC_KEY: privatePem } }).message).toContain(
      'HERALD_TOKEN_PUBLIC_KEY (environment): is a private key: give Herald only the public key',
    );
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey;
    const pssPem = pss.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadError({ env: { HERALD_TOKEN_PUBLIC_KEY: pssPem } }).message).toContain(
      'is an RSA-PSS-only key, which Herald cannot load',
    );
    expect(loadError({ env: { HERALD_TOKEN_JWKS_URL: 'ftp://id.example/jwks' } }).message).toMatch(
      /HERALD_TOKEN_JWKS_URL \(environment\): must be an http:\/\/ or https:\/\/ URL/,
    );
  });
});

describe('namespace access', () => {
  it('reads subscribe, clientHistory and clientPresence, and refuses anonymous clients outside "any"', () => {
    writeConfig({
      namespaces: { vip: { subscribe: 'private', clientHistory: false, clientPresence: false } },
    });
    expect(load().namespaces['vip']).toMatchObject({
      subscribe: 'private',
      clientHistory: false,
      clientPresence: false,
    });
    writeConfig({ namespaces: { vip: { subscribe: 'listed', anonymousSubscribe: true } } });
    expect(loadError().message).toMatch(
      /namespaces\.vip\.anonymousSubscribe \(.*herald\.config\.json\): anonymous clients cannot subscribe where subscribe is "listed"/,
    );
    writeConfig({ namespaces: { vip: { subscribe: 'secret' } } });
    expect(loadError().message).toMatch(/namespaces\.vip\.subscribe .*must be one of any, listed, private/);
  });
});
