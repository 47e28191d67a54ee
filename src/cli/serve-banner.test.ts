import { describe, expect, it } from 'vitest';
import type { HeraldConfig } from '../config/config.ts';
import { loadConfig } from '../config/load.ts';
import { startBanner } from './commands/serve-banner.ts';

function config(env: NodeJS.ProcessEnv = {}): HeraldConfig {
  return loadConfig({ flags: {}, env, cwd: '/nonexistent-herald-dir' });
}

const banner = (cfg: HeraldConfig, url = 'http://127.0.0.1:8080') =>
  startBanner({ url, config: cfg, demo: { token: 'DEMO.TOKEN.SIG', ttl: '24h' } });

describe('startBanner', () => {
  it('shows the generated secrets, a demo token and a curl command for the real URL', () => {
    const cfg = config();
    const text = banner(cfg, 'http://127.0.0.1:39123');
    expect(text).toContain('Herald is running at http://127.0.0.1:39123 with the memory engine');
    expect(text).toContain(`API key:       ${cfg.apiKey}`);
    expect(text).toContain(`Token secret:  ${cfg.tokenSecret}`);
    expect(text).toContain('Set HERALD_API_KEY / HERALD_TOKEN_SECRET to keep them across restarts.');
    expect(text).toContain('Development client token for user "demo" (expires in 24h):\n  DEMO.TOKEN.SIG');
    expect(text).toContain(
      `curl -X POST http://127.0.0.1:39123/api/publish -H 'Authorization: apikey ${cfg.apiKey}' -H 'Content-Type: application/json' -d '{"channel":"chat:lobby","data":{"text":"hello"}}'`,
    );
    expect(text).toContain(
      'npx herald subscribe chat:lobby --url http://127.0.0.1:39123 --token DEMO.TOKEN.SIG',
    );
  });

  it('omits --url for the default address', () => {
    expect(banner(config())).toContain('npx herald subscribe chat:lobby --token DEMO.TOKEN.SIG');
  });

  it('shows only what was generated, never a configured secret', () => {
    const apiKey = 'configured-api-key-123';
    const cfg = config({ HERALD_API_KEY: apiKey });
    const text = banner(cfg);
    expect(text).not.toContain(apiKey);
    expect(text).not.toContain('API key:');
    expect(text).toContain(`Token secret:  ${cfg.tokenSecret}`);
    expect(text).toContain('Set HERALD_TOKEN_SECRET to keep it across restarts.');
    expect(text).toContain("-H 'Authorization: apikey <your API key>'");

    const secret = 'a-configured-token-secret-of-32-bytes!';
    const onlyKey = banner(config({ HERALD_TOKEN_SECRET: secret }));
    expect(onlyKey).not.toContain(secret);
    expect(onlyKey).toContain('Set HERALD_API_KEY to keep it across restarts.');
  });

  it('generates no token secret and prints no demo token when the app signs tokens with its own keys', () => {
    const cfg = config({ HERALD_TOKEN_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json' });
    expect(cfg.tokenSecret).toBeUndefined();
    expect(cfg.generated.tokenSecret).toBe(false);
    const text = startBanner({ url: 'http://127.0.0.1:8080', config: cfg, demo: undefined });
    expect(text).toContain(`API key:       ${cfg.apiKey}`);
    expect(text).not.toContain('Token secret');
    expect(text).not.toContain('demo');
    expect(text).toContain('--token <a client token signed by your key>');
  });

  it('counts the worker processes when there are several', () => {
    expect(banner(config({ HERALD_REDIS_URL: 'redis://127.0.0.1:6379', HERALD_WORKERS: '3' }))).toContain(
      'with Redis at redis://127.0.0.1:6379 (3 worker processes).',
    );
    expect(banner(config())).not.toContain('worker');
  });

  it('names the Redis engine without its password', () => {
    const text = banner(config({ HERALD_REDIS_URL: 'redis://user:hunter2@redis.internal:6379/0' }));
    expect(text).toContain('with Redis at redis://user:***@redis.internal:6379/0');
    expect(text).not.toContain('hunter2');
    expect(banner(config({ HERALD_REDIS_CLUSTER_NODES: 'r1:7000,r2:7000' }))).toContain(
      'with Redis Cluster (seed nodes r1:7000, r2:7000)',
    );
  });
});
