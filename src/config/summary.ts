/**
 * The configuration as the start log shows it: every setting, with the secrets replaced by whether
 * they are set and the Redis password masked, so logs can be shipped anywhere.
 */
import type { HeraldConfig } from './config.ts';

const REDACTED = '[redacted]';

export function configSummary(config: HeraldConfig): Record<string, unknown> {
  const { apiKey, adminPassword, tokenSecret, tokenPublicKey, redisUrl, ...rest } = config;
  return {
    ...rest,
    apiKey: apiKey === '' ? undefined : REDACTED,
    ...(adminPassword === undefined ? {} : { adminPassword: REDACTED }),
    ...(tokenSecret === undefined ? {} : { tokenSecret: REDACTED }),
    ...(tokenPublicKey === undefined ? {} : { tokenPublicKey: 'PEM public key' }),
    ...(redisUrl === undefined ? {} : { redisUrl: maskPassword(redisUrl) }),
  };
}

/** The Redis URL with its password masked: logs and banners end up in terminals and CI output. */
export function maskPassword(redisUrl: string): string {
  const url = new URL(redisUrl);
  if (url.password !== '') url.password = '***';
  return url.href;
}
