/**
 * Client tokens: HS256 JWTs signed with the token secret. `sub` names the user; `exp` (optional) is
 * enforced; `channels` (optional) lists the channel names or patterns the client may subscribe to;
 * `info` (optional) is a JSON object attached to the client's publications.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { JsonValue } from '@herald/protocol';
import { HeraldError } from '../core/errors.ts';
import { compilePatterns, isValidPattern, type ChannelMatcher } from '../core/pattern.ts';

/** What a verified token grants. */
export interface TokenClaims {
  readonly user: string;
  /** Unix time (seconds) when the token expires; undefined for tokens without `exp`. */
  readonly expires: number | undefined;
  /** Channels the token narrows subscriptions to; undefined when the token has no `channels` claim. */
  readonly channels: ChannelMatcher | undefined;
  readonly info: JsonValue | undefined;
}

/** Tolerated clock difference between the token issuer and this node, seconds (at connect and after). */
export const CLOCK_TOLERANCE_S = 5;
const ALGORITHMS = ['HS256'];

export class TokenVerifier {
  /**
   * The secret imported once as a WebCrypto key: given the raw bytes, jose imports them again on
   * every verification, which costs more than the verification itself (about 2.5× the CPU per token).
   */
  readonly #key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.#key = crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    // A key WebCrypto refuses fails each verification (as an invalid token), not the process.
    this.#key.catch(() => undefined);
  }

  /** Verifies a token; rejects with HERALD_ERR_UNAUTHORIZED or HERALD_ERR_TOKEN_EXPIRED. */
  async verify(token: string): Promise<TokenClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await this.#key, {
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new HeraldError('HERALD_ERR_TOKEN_EXPIRED', 'token expired');
      }
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', `invalid token: ${describeJoseError(err)}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'invalid token: "sub" must be a non-empty string');
    }
    return {
      user: payload.sub,
      expires: payload.exp,
      channels: parseChannelsClaim(payload['channels']),
      info: parseInfoClaim(payload['info']),
    };
  }
}

function parseChannelsClaim(claim: unknown): ChannelMatcher | undefined {
  if (claim === undefined) return undefined;
  if (!Array.isArray(claim) || !claim.every((p): p is string => typeof p === 'string' && isValidPattern(p))) {
    throw new HeraldError(
      'HERALD_ERR_UNAUTHORIZED',
      'invalid token: "channels" must be an array of channel names or patterns',
    );
  }
  return compilePatterns(claim);
}

function parseInfoClaim(claim: unknown): JsonValue | undefined {
  if (claim === undefined) return undefined;
  if (claim === null || typeof claim !== 'object' || Array.isArray(claim)) {
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'invalid token: "info" must be a JSON object');
  }
  return claim as JsonValue;
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed (HS256 required)';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not match';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim "${err.claim}" ${err.reason}`;
  if (err instanceof joseErrors.JOSEError) return err.message;
  return 'malformed';
}

export interface MintOptions {
  readonly user: string;
  /** Lifetime in seconds; undefined mints a token without `exp`. */
  readonly ttlSeconds?: number;
  readonly channels?: readonly string[];
  readonly info?: JsonValue;
}

/** Signs a client token (used by `herald token`, the start banner and tests). */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = {};
  if (options.channels !== undefined) claims['channels'] = options.channels;
  if (options.info !== undefined) claims['info'] = options.info;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.user)
    .setIssuedAt();
  if (options.ttlSeconds !== undefined)
    jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds);
  return jwt.sign(new TextEncoder().encode(secret));
}
