import { describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { HeraldError } from '../core/errors.ts';
import { mintToken, TokenVerifier } from './tokens.ts';

const secret = 'a-token-secret-of-at-least-32-bytes!';
const key = new TextEncoder().encode(secret);
const verifier = new TokenVerifier(secret);
const now = () => Math.floor(Date.now() / 1000);

function refusal(token: string): { code: string; message: string } {
  try {
    verifier.verify(token);
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
    const claims = verifier.verify(token);
    expect(claims.user).toBe('ann');
    expect(claims.expires).toBe(now() + 60);
    expect(claims.info).toEqual({ name: 'Ann' });
    expect(claims.channels?.('chat:lobby')).toBe(true);
    expect(claims.channels?.('news:today')).toBe(false);
  });

  it('refuses other algorithms, even with the right secret, and unsigned tokens', async () => {
    const hs384 = await new SignJWT({}).setProtectedHeader({ alg: 'HS384' }).setSubject('ann').sign(key);
    expect(refusal(hs384)).toEqual({
      code: 'HERALD_ERR_UNAUTHORIZED',
      message: 'invalid token: algorithm not allowed (HS256 required)',
    });
    const unsigned = new UnsecuredJWT({}).setSubject('ann').encode();
    expect(refusal(unsigned).code).toBe('HERALD_ERR_UNAUTHORIZED');
  });

  it('refuses a wrong signature, garbage, a token not valid yet, and one without a subject', async () => {
    const other = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .sign(new Uint8Array(32));
    expect(refusal(other).message).toBe('invalid token: signature does not match');
    expect(refusal('not-a-jwt').message).toBe('invalid token: malformed');
    const early = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .setNotBefore(now() + 60)
      .sign(key);
    expect(refusal(early).message).toMatch(/not valid yet/);
    const anonymous = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect(refusal(anonymous).message).toMatch(/"sub"/);
  });

  it('tolerates 5 seconds of clock difference on expiry, not more', async () => {
    const justExpired = await mintToken(secret, { user: 'ann', ttlSeconds: -2 });
    expect(verifier.verify(justExpired).user).toBe('ann');
    const expired = await mintToken(secret, { user: 'ann', ttlSeconds: -30 });
    expect(refusal(expired)).toEqual({ code: 'HERALD_ERR_TOKEN_EXPIRED', message: 'token expired' });
  });

  it('refuses claims of the wrong shape', async () => {
    const badChannels = await mintToken(secret, { user: 'ann', channels: [''] });
    expect(refusal(badChannels).message).toMatch(/"channels"/);
    const badInfo = await new SignJWT({ info: [1] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .sign(key);
    expect(refusal(badInfo).message).toMatch(/"info"/);
  });
});
