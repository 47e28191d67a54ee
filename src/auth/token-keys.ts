/**
 * Which JWT algorithms a verification key may check. Each key verifies only the algorithms of its own
 * kind — the secret HMAC tokens, a public key the signatures of its type and curve — which is what
 * defeats algorithm confusion: a token "signed" with HS256 using the public key's text as the secret
 * is checked against the secret, and fails.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

const EC_ALGORITHM: Readonly<Record<string, string>> = {
  prime256v1: 'ES256',
  'P-256': 'ES256',
  secp384r1: 'ES384',
  'P-384': 'ES384',
  secp521r1: 'ES512',
  'P-521': 'ES512',
};

/** The algorithms a PEM public key verifies; throws a readable error for anything else. */
export function algorithmsForPublicKey(pem: string): string[] {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`not a PEM public key (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const algorithm = EC_ALGORITHM[curve];
      if (algorithm === undefined) throw new Error(`EC curve ${curve || 'unknown'} is not one JWTs use`);
      return [algorithm];
    }
    case 'ed25519':
    case 'ed448':
      return ['EdDSA'];
    default:
      throw new Error(`${key.asymmetricKeyType ?? 'this'} key type cannot verify JWTs`);
  }
}
