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

/**
 * The algorithms a PEM public key verifies; for anything else throws an error whose message reads
 * after "is" ("is not a PEM public key …").
 */
export function algorithmsForPublicKey(pem: string): string[] {
  // createPublicKey accepts a private key too (deriving its public half), but a private key has no
  // business on a server that only verifies: refuse it rather than quietly holding a signing key.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new Error('a private key: give Herald only the public key (BEGIN PUBLIC KEY)');
  }
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
      // A key restricted to RSA-PSS (OID id-RSASSA-PSS) is not one the verifier can load: export the
      // same modulus as a plain RSA public key (it verifies PS* tokens all the same).
      throw new Error(
        'an RSA-PSS-only key, which Herald cannot load: export the same key as a plain RSA public key (it verifies PS256/384/512 all the same)',
      );
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
