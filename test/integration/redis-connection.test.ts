/**
 * The ways of reaching Redis that HERALD_REDIS_URL offers, each against a real redis-server: an ACL
 * user with a password and a database index, TLS (rediss://) with a certificate from a private CA,
 * and what an operator sees when the credentials or the certificate are wrong.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/tokens.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { run } from '../helpers/cli.ts';
import { TEST_API_KEY, TEST_TOKEN_SECRET } from '../helpers/config.ts';
import { freePort } from '../helpers/free-port.ts';
import { startTestHerald, waitFor } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';

describe('an ACL user, a password and a database index in the URL', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis();
    await redis.command('ACL', 'SETUSER', 'herald', 'on', '>pw-0123456789', '~*', '&*', '+@all');
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('connects as that user to that database, and delivers', async () => {
    const herald = await startTestHerald({
      redisUrl: `redis://herald:pw-0123456789@127.0.0.1:${redis.port}/3`,
      redisPrefix: uniquePrefix(),
    });
    try {
      const client = await herald.client();
      const received: unknown[] = [];
      client.onPublication((_channel, pub) => received.push(pub.data));
      await client.call('subscribe', { channel: 'chat:acl' });
      await herald.publish('chat:acl', { n: 1 });
      await waitFor(() => received.length === 1);
      const connections = (await redis.command('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => line.includes('user=herald'));
      expect(connections.length).toBeGreaterThanOrEqual(2);
      expect(connections.every((line) => line.includes(' db=3 '))).toBe(true);
      expect(await redis.command('INFO', 'keyspace')).toMatch(/^db3:keys=/m);
      client.close();
    } finally {
      await herald.close();
    }
  });

  it('refuses to start, naming the problem, when Redis refuses the credentials', async () => {
    const started = Date.now();
    await expect(
      startTestHerald({
        redisUrl: `redis://herald:wrong@127.0.0.1:${redis.port}`,
        redisPrefix: uniquePrefix(),
      }),
    ).rejects.toThrow(/Redis refused the credentials of the Redis URL \(WRONGPASS/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('rediss:// with a certificate from a private CA', () => {
  let dir: string;
  let redis: RedisServer;
  let tlsPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
    makeCertificates(dir);
    tlsPort = await freePort();
    redis = await startRedis({
      args: [
        ...['--tls-port', String(tlsPort), '--tls-auth-clients', 'no'],
        ...['--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key')],
        ...['--tls-ca-cert-file', join(dir, 'ca.crt')],
      ],
    });
  });
  afterAll(async () => {
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('connects over TLS when Node trusts the CA (NODE_EXTRA_CA_CERTS), and delivers', async () => {
    const port = await freePort();
    const server = serve({ HERALD_PORT: String(port), NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt') });
    try {
      await waitFor(() => server.output().includes('herald started'), 20_000, 'herald to start over TLS');
      // The TLS port speaks nothing but TLS: reaching Redis through it is the proof.
      const client = await ProtocolClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
      await client.call('connect', { token: await mintToken(TEST_TOKEN_SECRET, { user: 'alice' }) });
      const received: unknown[] = [];
      client.onPublication((_channel, pub) => received.push(pub.data));
      await client.call('subscribe', { channel: 'chat:tls' });
      const response = await fetch(`http://127.0.0.1:${port}/api/publish`, {
        method: 'POST',
        headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:tls', data: { over: 'tls' } }),
      });
      expect(response.status).toBe(200);
      await waitFor(() => received.length === 1);
      expect(received).toEqual([{ over: 'tls' }]);
      client.close();
    } finally {
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
  });

  it('refuses to start, saying how to trust the CA, when the certificate is not trusted', async () => {
    const server = serve({ HERALD_PORT: String(await freePort()) });
    try {
      const [code] = (await once(server.child, 'exit')) as [number];
      expect(code).toBe(1);
      expect(server.output()).toMatch(/the TLS certificate of Redis is not trusted .*NODE_EXTRA_CA_CERTS/);
    } finally {
      server.child.kill('SIGKILL'); // should it ever wait instead of exiting
    }
  });

  /** `herald serve` against the TLS port, as an operator would run it. */
  function serve(env: Record<string, string>) {
    const running = run(['serve'], {
      HERALD_REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      HERALD_REDIS_PREFIX: uniquePrefix(),
      HERALD_API_KEY: TEST_API_KEY,
      HERALD_TOKEN_SECRET: TEST_TOKEN_SECRET,
      HERALD_LOG_LEVEL: 'info',
      ...env,
    });
    return { child: running.child, output: () => running.stdout + running.stderr };
  }
});

/** A CA, and a certificate it signed for 127.0.0.1, made with the openssl command. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=Herald test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
}
