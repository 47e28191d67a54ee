/**
 * Security cases for client tokens, each over a real WebSocket against a real server: forged
 * algorithms (`alg: none`, HS256 "signed" with the public key's text, a key embedded in the header),
 * lifetimes (`exp`, `nbf`), `iss`/`aud`, tampering, and tokens used where they do not belong
 * (another user's token in `refresh`, a channel token to connect, a connection token for a private
 * channel). A refused `connect` is answered with its code and closes the connection.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, importSPKI, SignJWT, type JWK } from 'jose';
import { DisconnectCode, ErrorCode, type PublicationFrame } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { TEST_TOKEN_SECRET, testConfig } from '../helpers/config.ts';
import { startHerald } from '../../src/server.ts';
import { errorOf, hs256, unsigned, withPayload } from './helpers.ts';

const now = () => Math.floor(Date.now() / 1000);

/** Connects with `token` and resolves with the error code and the close code the server answered with. */
async function refusal(url: string, token: string): Promise<{ code: number; close: number }> {
  const client = await ProtocolClient.open(url);
  const error = await errorOf(client.call('connect', { token }));
  return { code: error.code, close: (await client.closed).code };
}

const UNAUTHORIZED = { code: ErrorCode.UNAUTHORIZED, close: DisconnectCode.UNAUTHORIZED };

/** An RSA key pair as PEM: the app's signing key and the public key Herald is given. */
function rsaKeys(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

async function rs256(privateKeyPem: string, claims: Record<string, unknown>, header: object = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', ...header })
    .sign(createPrivateKey(privateKeyPem));
}

describe('tokens signed with the token secret', () => {
  let herald: TestHerald;
  beforeAll(async () => {
    herald = await startTestHerald({
      tokenClockToleranceMs: 1000,
      namespaces: {
        chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true },
        dm: { ...DEFAULT_NAMESPACE_OPTIONS, subscribe: 'private' },
      },
    });
  });
  afterAll(() => herald.close());

  it.each(['none', 'None', 'NONE', 'nOnE', ''])('refuses alg %j without a signature', async (alg) => {
    expect(await refusal(herald.wsUrl, unsigned({ sub: 'alice' }, alg))).toEqual(UNAUTHORIZED);
  });

  it('refuses alg none even with a signature part glued on', async () => {
    const real = await herald.token();
    const forged = `${unsigned({ sub: 'alice' }).slice(0, -1)}.${real.split('.')[2]}`;
    expect(await refusal(herald.wsUrl, forged)).toEqual(UNAUTHORIZED);
  });

  it('refuses an expired token with 102 and closes with 3003', async () => {
    const token = hs256({ sub: 'alice', exp: now() - 60 }, TEST_TOKEN_SECRET);
    expect(await refusal(herald.wsUrl, token)).toEqual({
      code: ErrorCode.TOKEN_EXPIRED,
      close: DisconnectCode.TOKEN_EXPIRED,
    });
  });

  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    const token = hs256({ sub: 'alice', nbf: now() + 60 }, TEST_TOKEN_SECRET);
    const client = await ProtocolClient.open(herald.wsUrl);
    const error = await errorOf(client.call('connect', { token }));
    expect(error.code).toBe(ErrorCode.UNAUTHORIZED);
    expect(error.message).toMatch(/not valid yet/);
    expect((await client.closed).code).toBe(DisconnectCode.UNAUTHORIZED);
  });

  it('refuses a payload changed under the original signature', async () => {
    const real = await herald.token({ user: 'alice', channels: ['chat:a'], ttlSeconds: 60 });
    const tampered = [
      { sub: 'admin', channels: ['chat:a'], exp: now() + 60 },
      { sub: 'alice', channels: ['*'], exp: now() + 60 },
      { sub: 'alice', channels: ['chat:a'] }, // the expiry removed
    ];
    for (const payload of tampered) {
      expect(await refusal(herald.wsUrl, withPayload(real, payload))).toEqual(UNAUTHORIZED);
    }
  });

  it('refuses a header changed under the original signature, and a flipped signature bit', async () => {
    const real = await herald.token({ user: 'alice' });
    const [header, payload, signature = ''] = real.split('.');
    const otherAlg = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'JWT' })).toString('base64url');
    expect(await refusal(herald.wsUrl, `${otherAlg}.${payload}.${signature}`)).toEqual(UNAUTHORIZED);
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    expect(await refusal(herald.wsUrl, `${header}.${payload}.${bytes.toString('base64url')}`)).toEqual(
      UNAUTHORIZED,
    );
    expect(await refusal(herald.wsUrl, `${header}.${payload}.`)).toEqual(UNAUTHORIZED);
  });

  it('refuses a channel token as a connection token', async () => {
    const channelToken = await herald.token({ user: 'alice', channel: 'dm:alice-bob' });
    expect(await refusal(herald.wsUrl, channelToken)).toEqual(UNAUTHORIZED);
  });

  it('refuses a connection token as the channel token of a private channel', async () => {
    const client = await herald.client();
    const error = await errorOf(
      client.call('subscribe', { channel: 'dm:alice-bob', token: await herald.token({ user: 'alice' }) }),
    );
    expect(error.code).toBe(ErrorCode.UNAUTHORIZED);
    // The channel token of another user, or for another channel, opens nothing either.
    for (const token of [
      await herald.token({ user: 'bob', channel: 'dm:alice-bob' }),
      await herald.token({ user: 'alice', channel: 'dm:alice-carol' }),
    ]) {
      const refused = await errorOf(client.call('subscribe', { channel: 'dm:alice-bob', token }));
      expect(refused.code).toBe(ErrorCode.PERMISSION_DENIED);
    }
    client.close();
  });

  it("refuses another user's token in refresh, keeping the connection's own user and expiry", async () => {
    const client = await herald.client({ token: await herald.token({ user: 'alice', ttlSeconds: 2 }) });
    const refusedTokens = [
      await herald.token({ user: 'mallory', ttlSeconds: 3600 }),
      await herald.token({ user: 'alice', channel: 'dm:alice-bob', ttlSeconds: 3600 }),
      unsigned({ sub: 'alice' }),
      hs256({ sub: 'alice', exp: now() + 3600 }, 'another-secret-0123456789-0123456789'),
    ];
    for (const token of refusedTokens) {
      expect((await errorOf(client.call('refresh', { token }))).code).toBe(ErrorCode.UNAUTHORIZED);
    }
    // Still alice: her publications carry her name.
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, publication) => received.push(publication));
    await client.call('subscribe', { channel: 'chat:refresh' });
    await client.call('publish', { channel: 'chat:refresh', data: 'hi' });
    await waitFor(() => received.length === 1, 3000, 'the publication');
    expect(received[0]?.info?.user).toBe('alice');
    // And her token's expiry still holds: none of the refused tokens extended it.
    expect((await client.closed).code).toBe(DisconnectCode.TOKEN_EXPIRED);
  });
});

describe('iss and aud, when configured', () => {
  let herald: TestHerald;
  const issuer = 'https://auth.example';
  const audience = 'herald';
  beforeAll(async () => {
    herald = await startTestHerald({ tokenIssuer: issuer, tokenAudience: audience });
  });
  afterAll(() => herald.close());

  const sign = (claims: Record<string, unknown>) => hs256({ sub: 'alice', ...claims }, TEST_TOKEN_SECRET);

  it('accepts the configured iss and aud (aud alone or in a list)', async () => {
    for (const aud of [audience, ['other', audience]]) {
      const client = await ProtocolClient.open(herald.wsUrl);
      await expect(client.call('connect', { token: sign({ iss: issuer, aud }) })).resolves.toMatchObject({
        client: expect.any(String),
      });
      client.close();
    }
  });

  const wrong: [string, Record<string, unknown>][] = [
    ['a wrong iss', { iss: 'https://evil.example', aud: audience }],
    ['an iss that only starts like the right one', { iss: `${issuer}.evil.example`, aud: audience }],
    ['no iss', { aud: audience }],
    ['a wrong aud', { iss: issuer, aud: 'another-service' }],
    ['an aud list without ours', { iss: issuer, aud: ['another-service', 'HERALD'] }],
    ['no aud', { iss: issuer }],
  ];
  it.each(wrong)('refuses %s', async (_name, claims) => {
    expect(await refusal(herald.wsUrl, sign(claims))).toEqual(UNAUTHORIZED);
  });
});

describe('algorithm confusion with a public key', () => {
  const keys = rsaKeys();

  it('refuses HS256 signed with the PEM public key text when Herald has no token secret', async () => {
    const { tokenSecret: _none, ...config } = testConfig({ tokenPublicKey: keys.publicKey });
    const herald = await startHerald(config, { logger: pino({ level: 'silent' }) });
    try {
      const url = `${herald.url.replace(/^http/, 'ws')}/connection/websocket`;
      // The app's own RS256 tokens work…
      const client = await ProtocolClient.open(url);
      await client.call('connect', { token: await rs256(keys.privateKey, { sub: 'alice' }) });
      client.close();
      // …an HS256 token keyed with the public key's text, as published, does not.
      for (const key of [keys.publicKey, keys.publicKey.trim()]) {
        expect(await refusal(url, hs256({ sub: 'alice' }, key))).toEqual(UNAUTHORIZED);
      }
    } finally {
      await herald.close();
    }
  });

  it('refuses HS256 signed with the PEM public key text when Herald also has a token secret', async () => {
    const herald = await startTestHerald({ tokenPublicKey: keys.publicKey });
    try {
      expect(await refusal(herald.wsUrl, hs256({ sub: 'alice' }, keys.publicKey))).toEqual(UNAUTHORIZED);
      const der = (await importSPKI(keys.publicKey, 'RS256', { extractable: true })) as CryptoKey;
      const raw = Buffer.from(await crypto.subtle.exportKey('spki', der));
      expect(await refusal(herald.wsUrl, hs256({ sub: 'alice' }, raw))).toEqual(UNAUTHORIZED);
    } finally {
      await herald.close();
    }
  });

  it("refuses a token carrying its own key in the header (jwk) or pointing to the attacker's (jku)", async () => {
    const herald = await startTestHerald({ tokenPublicKey: keys.publicKey });
    try {
      const attacker = rsaKeys();
      const jwk: JWK = await exportJWK(await importSPKI(attacker.publicKey, 'RS256', { extractable: true }));
      const embedded = await rs256(attacker.privateKey, { sub: 'alice' }, { jwk });
      expect(await refusal(herald.wsUrl, embedded)).toEqual(UNAUTHORIZED);
      const pointed = await rs256(
        attacker.privateKey,
        { sub: 'alice' },
        { jku: 'http://127.0.0.1:1/jwks.json', kid: 'attacker' },
      );
      expect(await refusal(herald.wsUrl, pointed)).toEqual(UNAUTHORIZED);
    } finally {
      await herald.close();
    }
  });
});
