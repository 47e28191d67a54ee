/**
 * Client tokens: JWTs signed with the token secret (HS256/384/512), or by the app's own key pair
 * (RS*, PS*, ES*, EdDSA) verified with a PEM public key or a JWKS URL. `sub` names the user; `exp`
 * (optional) is enforced; `iss` and `aud` when configured; `channels` (optional) lists the channel
 * names or patterns the client may subscribe to; `info` (optional) is a JSON object attached to the
 * client's publications.
 */
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { JsonValue } from '@herald/protocol';
import { HeraldError } from '../core/errors.ts';
import { compilePatterns, isValidPattern, type ChannelMatcher } from '../core/pattern.ts';
import { algorithmsForPublicKey, ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from './token-keys.ts';

/** What a verified token grants. */
export interface TokenClaims {
  readonly user: string;
  /** Unix time (seconds) when the token expires; undefined for tokens without `exp`. */
  readonly expires: number | undefined;
  /** Channels the token narrows subscriptions to; undefined when the token has no `channels` claim. */
  readonly channels: ChannelMatcher | undefined;
  readonly info: JsonValue | undefined;
}

/** What a verified channel token grants: `user` may subscribe to `channel`. */
export interface ChannelGrant {
  readonly user: string;
  readonly channel: string;
  readonly expires: number | undefined;
}

/** Default tolerated clock difference between the token issuer and this node, seconds. */
export const CLOCK_TOLERANCE_S = 5;

export interface TokenVerifierOptions {
  /** HMAC secret: verifies HS256, HS384 and HS512 tokens. Without one, HMAC tokens are refused. */
  readonly secret?: string;
  /** A PEM public key (RSA, EC or Ed25519/Ed448): verifies the algorithms of its type. */
  readonly publicKey?: string;
  /** A JWKS URL: verifies RS*, PS*, ES* and EdDSA tokens with the key their `kid` names. */
  readonly jwksUrl?: string;
  /** Required `iss`, when set. */
  readonly issuer?: string;
  /** Required `aud` (the token's `aud` must be or include it), when set. */
  readonly audience?: string;
  /** Tolerated clock difference, seconds (default {@link CLOCK_TOLERANCE_S}). */
  readonly clockToleranceS?: number;
  /**
   * The least time between two JWKS fetches, ms (default 1 s): a token with an unknown `kid` (a key
   * just rotated in) fetches the keys again, but tokens with made-up `kid`s cannot make Herald fetch
   * faster than this.
   */
  readonly jwksCooldownMs?: number;
}

/** How long fetched JWKS keys are used before they are fetched again, ms. */
const JWKS_MAX_AGE_MS = 10 * 60_000;

type SyncVerify = (token: string) => Record<string, unknown>;

/**
 * Verifies client tokens, choosing the key by the token's algorithm. HMAC and PEM keys are checked
 * synchronously by fast-jwt with node:crypto (an HS256 token in about 8 µs of CPU; WebCrypto took
 * 15–35 µs, most of it handing the job to another thread and back). JWKS keys are fetched, cached and
 * refreshed on an unknown `kid` by jose.
 */
export class TokenVerifier {
  readonly #hmac: SyncVerify | undefined;
  readonly #publicKey: { readonly verify: SyncVerify; readonly algorithms: readonly string[] } | undefined;
  readonly #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  readonly #options: TokenVerifierOptions;
  readonly #allowed: string;

  constructor(options: TokenVerifierOptions) {
    this.#options = options;
    const clockTolerance = (options.clockToleranceS ?? CLOCK_TOLERANCE_S) * 1000;
    const required = [
      ...(options.issuer === undefined ? [] : ['iss']),
      ...(options.audience === undefined ? [] : ['aud']),
    ];
    const claims = {
      clockTolerance,
      ...(options.issuer === undefined ? {} : { allowedIss: options.issuer }),
      ...(options.audience === undefined ? {} : { allowedAud: options.audience }),
      ...(required.length === 0 ? {} : { requiredClaims: required }),
    };
    if (options.secret !== undefined) {
      this.#hmac = createVerifier({ key: options.secret, algorithms: [...HMAC_ALGORITHMS], ...claims });
    }
    if (options.publicKey !== undefined) {
      const algorithms = algorithmsForPublicKey(options.publicKey);
      const verify = createVerifier({ key: options.publicKey, algorithms: algorithms as never, ...claims });
      this.#publicKey = { verify, algorithms };
    }
    if (options.jwksUrl !== undefined) {
      this.#jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 1000,
        cacheMaxAge: JWKS_MAX_AGE_MS,
      });
    }
    const allowed = [
      ...(this.#hmac === undefined ? [] : HMAC_ALGORITHMS),
      ...(this.#jwks ? ASYMMETRIC_ALGORITHMS : (this.#publicKey?.algorithms ?? [])),
    ];
    this.#allowed = allowed.join(', ');
  }

  /** Verifies a connection token; rejects with HERALD_ERR_UNAUTHORIZED or HERALD_ERR_TOKEN_EXPIRED. */
  async verify(token: string): Promise<TokenClaims> {
    const payload = await this.#payload(token);
    if (payload['channel'] !== undefined) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'invalid token: a channel token cannot connect');
    }
    return claimsOf(payload);
  }

  /**
   * Verifies a channel token (for a private channel): signed like connection tokens, for one user
   * (`sub`) and one channel (`channel`). Rejects with HERALD_ERR_UNAUTHORIZED or HERALD_ERR_TOKEN_EXPIRED.
   */
  async verifyChannel(token: string): Promise<ChannelGrant> {
    const payload = await this.#payload(token);
    const { sub, channel, exp } = payload;
    if (typeof sub !== 'string' || sub.length === 0 || typeof channel !== 'string' || channel.length === 0) {
      throw new HeraldError(
        'HERALD_ERR_UNAUTHORIZED',
        'invalid channel token: "sub" and "channel" must be non-empty strings',
      );
    }
    return { user: sub, channel, expires: typeof exp === 'number' ? exp : undefined };
  }

  async #payload(token: string): Promise<Record<string, unknown>> {
    const header = tokenHeader(token);
    const algorithm = header.alg;
    if (this.#hmac !== undefined && (HMAC_ALGORITHMS as readonly string[]).includes(algorithm)) {
      return verifySync(this.#hmac, token);
    }
    const jwks =
      this.#jwks !== undefined && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm)
        ? this.#jwks
        : undefined;
    // With both a PEM key and a JWKS, a token naming a key (`kid`) is the JWKS's; one without is the PEM's.
    if (this.#publicKey?.algorithms.includes(algorithm) && (jwks === undefined || header.kid === undefined)) {
      return verifySync(this.#publicKey.verify, token);
    }
    if (jwks !== undefined) return this.#verifyWithJwks(jwks, token);
    throw new HeraldError(
      'HERALD_ERR_UNAUTHORIZED',
      `invalid token: algorithm ${JSON.stringify(algorithm)} not allowed (allowed: ${this.#allowed})`,
    );
  }

  async #verifyWithJwks(jwks: ReturnType<typeof createRemoteJWKSet>, token: string): Promise<JWTPayload> {
    const { issuer, audience, clockToleranceS } = this.#options;
    try {
      const { payload } = await jwtVerify(token, jwks, {
        algorithms: [...ASYMMETRIC_ALGORITHMS],
        clockTolerance: clockToleranceS ?? CLOCK_TOLERANCE_S,
        ...(issuer === undefined ? {} : { issuer }),
        ...(audience === undefined ? {} : { audience }),
      });
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new HeraldError('HERALD_ERR_TOKEN_EXPIRED', 'token expired');
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
        // The key server is unreachable: not the token's fault, so the client should retry.
        throw new HeraldError(
          'HERALD_ERR_INTERNAL',
          'token keys unavailable: the JWKS could not be fetched',
          {
            cause: err,
          },
        );
      }
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', `invalid token: ${describeJoseError(err)}`);
    }
  }
}

/** The `alg` and `kid` of a token's header, without trusting anything else in it. */
function tokenHeader(token: string): { readonly alg: string; readonly kid: string | undefined } {
  const dot = token.indexOf('.');
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as unknown;
    const { alg, kid } = (header ?? {}) as { alg?: unknown; kid?: unknown };
    if (dot > 0 && typeof alg === 'string') return { alg, kid: typeof kid === 'string' ? kid : undefined };
  } catch {
    // fall through
  }
  throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'invalid token: malformed');
}

function verifySync(verify: SyncVerify, token: string): Record<string, unknown> {
  try {
    return verify(token);
  } catch (err) {
    if (err instanceof TokenError && err.code === TokenError.codes.expired) {
      throw new HeraldError('HERALD_ERR_TOKEN_EXPIRED', 'token expired');
    }
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED', `invalid token: ${describeTokenError(err)}`);
  }
}

function claimsOf(payload: Record<string, unknown>): TokenClaims {
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

function describeJoseError(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the JWKS matches the token';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not match';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim "${err.claim}" ${err.reason}`;
  return err.message;
}

export interface MintOptions {
  readonly user: string;
  /** Makes a channel token, for subscribing `user` to this private channel. */
  readonly channel?: string;
  /** Lifetime in seconds; undefined mints a token without `exp`. */
  readonly ttlSeconds?: number;
  readonly channels?: readonly string[];
  readonly info?: JsonValue;
  /** `iss` and `aud`, for a server that requires them. */
  readonly issuer?: string;
  readonly audience?: string;
}

/** Signs a client token (used by `herald token`, the start banner and tests). */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = { sub: options.user };
  if (options.channel !== undefined) claims['channel'] = options.channel;
  if (options.ttlSeconds !== undefined) claims['exp'] = Math.floor(Date.now() / 1000) + options.ttlSeconds;
  if (options.channels !== undefined) claims['channels'] = options.channels;
  if (options.info !== undefined) claims['info'] = options.info;
  if (options.issuer !== undefined) claims['iss'] = options.issuer;
  if (options.audience !== undefined) claims['aud'] = options.audience;
  const sign = createSigner({ key: secret, algorithm: 'HS256' });
  return Promise.resolve(sign(claims));
}
