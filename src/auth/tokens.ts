/**
 * Client tokens: HS256 JWTs signed with the token secret. `sub` names the user; `exp` (optional) is
 * enforced; `channels` (optional) lists the channel names or patterns the client may subscribe to;
 * `info` (optional) is a JSON object attached to the client's publications.
 */
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
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
const ALGORITHM = 'HS256';

/**
 * Verifies client tokens. fast-jwt checks an HS256 token synchronously with node:crypto in about
 * 8 µs of CPU; WebCrypto (jose) takes 15–35 µs, most of it handing the job to another thread and
 * back, which made token checks a quarter of the server's time in a burst of new connections.
 */
export class TokenVerifier {
  readonly #verify: (token: string) => Record<string, unknown>;

  constructor(secret: string) {
    this.#verify = createVerifier({
      key: secret,
      algorithms: [ALGORITHM],
      clockTolerance: CLOCK_TOLERANCE_S * 1000,
    });
  }

  /** Verifies a token; throws HERALD_ERR_UNAUTHORIZED or HERALD_ERR_TOKEN_EXPIRED. */
  verify(token: string): TokenClaims {
    let payload: Record<string, unknown>;
    try {
      payload = this.#verify(token);
    } catch (err) {
      if (err instanceof TokenError && err.code === TokenError.codes.expired) {
        throw new HeraldError('HERALD_ERR_TOKEN_EXPIRED', 'token expired');
      }
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', `invalid token: ${describeTokenError(err)}`);
    }
    const { sub, exp } = payload;
    if (typeof sub !== 'string' || sub.length === 0) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'invalid token: "sub" must be a non-empty string');
    }
    return {
      user: sub,
      expires: typeof exp === 'number' ? exp : undefined,
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

function describeTokenError(err: unknown): string {
  if (!(err instanceof TokenError)) return 'malformed';
  switch (err.code) {
    case TokenError.codes.invalidAlgorithm:
      return `algorithm not allowed (${ALGORITHM} required)`;
    case TokenError.codes.invalidSignature:
    case TokenError.codes.missingSignature:
      return 'signature does not match';
    case TokenError.codes.inactive:
      return 'not valid yet ("nbf" is in the future)';
    case TokenError.codes.malformed:
    case TokenError.codes.invalidPayload:
      return 'malformed';
    default:
      return err.message;
  }
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
  const claims: Record<string, unknown> = { sub: options.user };
  if (options.ttlSeconds !== undefined) claims['exp'] = Math.floor(Date.now() / 1000) + options.ttlSeconds;
  if (options.channels !== undefined) claims['channels'] = options.channels;
  if (options.info !== undefined) claims['info'] = options.info;
  const sign = createSigner({ key: secret, algorithm: ALGORITHM });
  return Promise.resolve(sign(claims));
}
