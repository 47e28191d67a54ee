/** A complete configuration for tests: the production defaults, on loopback, a free port, fixed secrets, quiet logs. */
import type { HeraldConfig } from '../../src/config/config.ts';
import { CONFIG_DEFAULTS } from '../../src/config/load.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';

export const TEST_API_KEY = 'test-api-key-0123456789';
export const TEST_TOKEN_SECRET = 'test-token-secret-0123456789-0123456789';

export function testConfig(overrides: Partial<HeraldConfig> = {}): HeraldConfig {
  return {
    ...CONFIG_DEFAULTS,
    port: 0,
    apiKey: TEST_API_KEY,
    tokenSecret: TEST_TOKEN_SECRET,
    generated: { apiKey: false, tokenSecret: false },
    dashboard: true,
    nodeName: 'test',
    logLevel: 'silent',
    namespaceDefaults: DEFAULT_NAMESPACE_OPTIONS,
    namespaces: {},
    // Test servers close at once, so the suite stays fast; drain tests set their own period.
    drainPeriodMs: 0,
    ...overrides,
  };
}
