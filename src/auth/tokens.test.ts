import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWK } from 'jose';
import { HeraldError } from '../core/errors.ts';
import { mintToken, TokenVerifier } from './tokens.ts';

const secret = 'a-token-secret-of-at-least-32-bytes!';
const key = new TextEncoder().encode(secret);
const verifier = new TokenVerifier({ secret });
const now = () => Math.floor(Date.now() / 1000);

async function refusal(token: string, by = verifier): Promise<{ code: string; message: string }> {
  try {
    await by.verify(token);
  } catch (err) {
    if (err instanceof HeraldError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the token was accepted');
}

describe('TokenVerifier', () => {
  it('accepts an HS256 token signed by another implementation, with its claims', async () => {
    const token = await new SignJWT({ channels: ['chat:*'], info: { name: 'Ann' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .setExpirationTime(now() + 60)
      .sign(key);
    const claims = await verifier.verify(token);
    expect(claims.user).toBe('ann');
    expect(claims.expires).toBe(now() + 60);
    expect(claims.info).toEqual({ name: 'Ann' });
    expect(claims.channels?.('chat:lobby')).toBe(true);
    expect(claims.channels?.('news:today')).toBe(false);
  });

  it('accepts HS384 and HS512 with the secret; refuses unsigned tokens and keys it does not have', async () => {
    for (const alg of ['HS384', 'HS512']) {
      const token = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('ann').sign(key);
      expect((await verifier.verify(token)).user).toBe('ann');
    }
    const unsigned = new UnsecuredJWT({}).setSubject('ann').encode();
    expect(await refusal(unsigned)).toEqual({
      code: 'HERALD_ERR_UNAUTHORIZED',
      message: 'invalid token: algorithm "none" not allowed (allowed: HS256, HS384, HS512)',
    });
    const { privateKey } = await generateKeyPair('RS256');
    const rs256 = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('ann')
      .sign(privateKey);
    expect((await refusal(rs256)).message).toMatch(/algorithm "RS256" not allowed/);
  });

  it('refuses a wrong signature, garbage, a token not valid yet, and one without a subject', async () => {
    const other = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .sign(new Uint8Array(32));
    expect((await refusal(other)).message).toBe('invalid token: signature does not match');
    expect((await refusal('not-a-jwt')).message).toBe('invalid token: malformed');
    const early = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .setNotBefore(now() + 60)
      .sign(key);
    expect((await refusal(early)).message).toMatch(/not valid yet/);
    const anonymous = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await refusal(anonymous)).message).toMatch(/"sub"/);
  });

  it('tolerates 5 seconds of clock difference on expiry, not more', async () => {
    const justExpired = await mintToken(secret, { user: 'ann', ttlSeconds: -2 });
    expect((await verifier.verify(justExpired)).user).toBe('ann');
    const expired = await mintToken(secret, { user: 'ann', ttlSeconds: -30 });
    expect(await refusal(expired)).toEqual({ code: 'HERALD_ERR_TOKEN_EXPIRED', message: 'token expired' });
  });

  it('refuses claims of the wrong shape', async () => {
    const badChannels = await mintToken(secret, { user: 'ann', channels: [''] });
    expect((await refusal(badChannels)).message).toMatch(/"channels"/);
    const badInfo = await new SignJWT({ info: [1] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .sign(key);
    expect((await refusal(badInfo)).message).toMatch(/"info"/);
  });
});

describe('TokenVerifier with a public key', () => {
  const cases = [
    ['RS256', 'RS256'],
    ['PS384', 'PS384'],
    ['ES256', 'ES256'],
    ['ES384', 'ES384'],
    ['EdDSA', 'EdDSA'],
  ] as const;
  it.each(cases)('verifies %s tokens with a PEM key of that kind', async (alg, keyAlg) => {
    const { publicKey, privateKey } = await generateKeyPair(keyAlg, { extractable: true });
    const keyed = new TokenVerifier({ secret, publicKey: await exportSPKI(publicKey) });
    const token = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('ann').sign(privateKey);
    expect((await keyed.verify(token)).user).toBe('ann');
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ann').sign(key);
    expect((await keyed.verify(hmac)).user).toBe('ann'); // the secret still verifies HMAC tokens
  });

  it('refuses HMAC tokens when only the app key is configured (no secret)', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const keyed = new TokenVerifier({ publicKey: await exportSPKI(publicKey) });
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ann').sign(key);
    expect((await refusal(hmac, keyed)).message).toBe(
      'invalid token: algorithm "HS256" not allowed (allowed: ES256)',
    );
  });

  it('refuses algorithm confusion: HS256 "signed" with the public key as the secret', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const keyed = new TokenVerifier({ secret, publicKey: pem });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('admin')
      .sign(new TextEncoder().encode(pem));
    expect((await refusal(forged, keyed)).message).toBe('invalid token: signature does not match');
  });

  it('refuses a token of another algorithm than its key, or signed by another key', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const keyed = new TokenVerifier({ secret, publicKey: await exportSPKI(publicKey) });
    const other = await generateKeyPair('ES256');
    const wrongKey = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('a')
      .sign(other.privateKey);
    expect((await refusal(wrongKey, keyed)).message).toBe('invalid token: signature does not match');
    const rsa = await generateKeyPair('RS256');
    const wrongAlg = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('a')
      .sign(rsa.privateKey);
    expect((await refusal(wrongAlg, keyed)).message).toMatch(
      /algorithm "RS256" not allowed \(allowed: HS256, HS384, HS512, ES256\)/,
    );
  });

  it('checks iss and aud when configured', async () => {
    const strict = new TokenVerifier({ secret, issuer: 'https://app.example', audience: 'herald' });
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('ann').sign(key);
    expect((await strict.verify(await sign({ iss: 'https://app.example', aud: ['x', 'herald'] }))).user).toBe(
      'ann',
    );
    expect((await refusal(await sign({ iss: 'https://evil.example', aud: 'herald' }), strict)).code).toBe(
      'HERALD_ERR_UNAUTHORIZED',
    );
    expect((await refusal(await sign({ iss: 'https://app.example', aud: 'other' }), strict)).code).toBe(
      'HERALD_ERR_UNAUTHORIZED',
    );
    expect((await refusal(await sign({ aud: 'herald' }), strict)).code).toBe('HERALD_ERR_UNAUTHORIZED');
  });
});

describe('TokenVerifier with a JWKS URL', () => {
  let server: Server;
  let keys: JWK[] = [];
  let fetches = 0;
  let jwksUrl = '';
  beforeAll(async () => {
    server = createServer((_request, response) => {
      fetches += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    jwksUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function keyPair(kid: string, alg: 'RS256' | 'ES256') {
    const pair = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg };
    const sign = () =>
      new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject('ann').sign(pair.privateKey);
    return { jwk, sign };
  }

  it('verifies by kid, caches the keys, and fetches again for a kid it does not know', async () => {
    const first = await keyPair('k1', 'RS256');
    keys = [first.jwk];
    const jwks = new TokenVerifier({ secret, jwksUrl, jwksCooldownMs: 0 });
    expect((await jwks.verify(await first.sign())).user).toBe('ann');
    expect((await jwks.verify(await first.sign())).user).toBe('ann');
    expect(fetches).toBe(1);
    const rotated = await keyPair('k2', 'ES256');
    keys = [first.jwk, rotated.jwk];
    expect((await jwks.verify(await rotated.sign())).user).toBe('ann');
    expect(fetches).toBe(2);
  });

  it('with a PEM key as well, verifies tokens naming a kid with the JWKS and the others with the PEM', async () => {
    const listed = await keyPair('listed', 'ES256');
    keys = [listed.jwk];
    const local = await generateKeyPair('ES256', { extractable: true });
    const both = new TokenVerifier({ jwksUrl, publicKey: await exportSPKI(local.publicKey) });
    expect((await both.verify(await listed.sign())).user).toBe('ann');
    const unnamed = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bo')
      .sign(local.privateKey);
    expect((await both.verify(unnamed)).user).toBe('bo');
  });

  it('refuses a token whose kid no key matches, and reports an unreachable JWKS as temporary', async () => {
    const stranger = await keyPair('unknown', 'RS256');
    keys = [];
    const jwks = new TokenVerifier({ secret, jwksUrl });
    expect(await refusal(await stranger.sign(), jwks)).toEqual({
      code: 'HERALD_ERR_UNAUTHORIZED',
      message: 'invalid token: no key in the JWKS matches the token',
    });
    const down = new TokenVerifier({ secret, jwksUrl: 'http://127.0.0.1:1/jwks.json' });
    const error = await down.verify(await stranger.sign()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toMatchObject({ code: 'HERALD_ERR_INTERNAL', temporary: true });
  });
});
