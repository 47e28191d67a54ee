/** A complete configuration for tests: loopback, a free port, fixed secrets, quiet logs. */
import type { HeraldConfig } from '../../src/config/config.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';

export const TEST_API_KEY = 'test-api-key-0123456789';
export const TEST_TOKEN_SECRET = 'test-token-secret-0123456789-0123456789';

export function testConfig(overrides: Partial<HeraldConfig> = {}): HeraldConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    apiKey: TEST_API_KEY,
    tokenSecret: TEST_TOKEN_SECRET,
    generated: { apiKey: false, tokenSecret: false },
    redisPrefix: 'herald:',
    allowedOrigins: [],
    maxFrameBytes: 65536,
    maxOutboundBytes: 4 * 1024 * 1024,
    maxSubscriptionsPerConnection: 256,
    pingIntervalMs: 25_000,
    pongTimeoutMs: 10_000,
    connectTimeoutMs: 10_000,
    historyMaxLimit: 1000,
    idempotencyTtlMs: 300_000,
    nodeName: 'test',
    logLevel: 'silent',
    namespaceDefaults: DEFAULT_NAMESPACE_OPTIONS,
    namespaces: {},
    ...overrides,
  };
}
