import { describe, expect, it } from 'vitest';
import { loadConfig } from './load.ts';
import { configSummary } from './summary.ts';

describe('configSummary', () => {
  it('keeps every setting but the secrets, and masks the Redis password', () => {
    const config = loadConfig({
      flags: {},
      env: {
        HERALD_API_KEY: 'api-key-0123456789-secret',
        HERALD_ADMIN_PASSWORD: 'admin-password-secret',
        HERALD_TOKEN_SECRET: 'token-secret-0123456789-0123456789-secret',
        HERALD_REDIS_URL: 'redis://user:hunter2@redis.internal:6379/0',
      },
      cwd: '/nonexistent-herald-dir',
    });
    const summary = configSummary(config);
    const text = JSON.stringify(summary);
    expect(text).not.toMatch(/secret|hunter2/);
    expect(summary).toMatchObject({
      apiKey: '[redacted]',
      adminPassword: '[redacted]',
      tokenSecret: '[redacted]',
      redisUrl: 'redis://user:***@redis.internal:6379/0',
      port: 8080,
      dashboard: true,
    });
  });
});
