/**
 * The dashboard's sign-in: the admin password or the API key buys a session cookie, an expiry signed
 * with a key derived from the API key (so every node of the deployment accepts it, and changing the
 * key or the password signs everyone out). The cookie is HttpOnly and SameSite=Strict: pages of other
 * sites can neither read it nor make the browser send it, which is what keeps the cookie from
 * authorizing their requests; API calls made with it must also carry `X-Herald-Dashboard: 1`, a header
 * a cross-site form cannot send.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TokenBucket } from '../node/token-bucket.ts';

export const SESSION_COOKIE = 'herald_dashboard';
/** The header that API calls authorized by the cookie must carry. */
export const DASHBOARD_HEADER = 'x-herald-dashboard';
const SESSION_LIFETIME_MS = 12 * 60 * 60_000;
/** Wrong secrets tolerated per client address: a burst of 10, then one every 6 s. */
const SIGN_IN_RATE = { perSecond: 1 / 6, burst: 10 };
/** Addresses remembered for sign-in rates; the oldest are forgotten beyond this. */
const MAX_TRACKED_ADDRESSES = 10_000;

export type SignInResult =
  | { readonly ok: true; readonly cookie: string; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: 'wrong-secret' | 'rate-limited' };

export class DashboardSessions {
  readonly #key: Buffer;
  readonly #secrets: readonly Buffer[];
  readonly #failures = new Map<string, TokenBucket>();

  constructor({ apiKey, adminPassword }: { readonly apiKey: string; readonly adminPassword?: string }) {
    this.#key = createHash('sha256')
      .update(`herald-dashboard-session\0${apiKey}\0${adminPassword ?? ''}`)
      .digest();
    this.#secrets = [apiKey, ...(adminPassword === undefined ? [] : [adminPassword])].map(digest);
  }

  /** Checks a sign-in secret (compared as digests in constant time) from the client at `address`. */
  signIn(secret: string, address: string, now = Date.now()): SignInResult {
    const bucket = this.#failures.get(address);
    if (bucket !== undefined && !bucket.peek(now)) return { ok: false, reason: 'rate-limited' };
    const given = digest(secret);
    // Every secret is compared, so the time taken does not tell which one matched.
    let matched = false;
    for (const expected of this.#secrets) matched = timingSafeEqual(given, expected) || matched;
    if (!matched) {
      this.#recordFailure(address, now);
      return { ok: false, reason: 'wrong-secret' };
    }
    const expiresAt = now + SESSION_LIFETIME_MS;
    return { ok: true, cookie: `${expiresAt}.${this.#sign(expiresAt)}`, expiresAt };
  }

  /** The session's expiry when the request's cookie holds a valid, unexpired one. */
  verify(request: Pick<IncomingMessage, 'headers'>, now = Date.now()): number | undefined {
    const value = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (value === undefined) return undefined;
    const dot = value.indexOf('.');
    const expiresAt = Number(value.slice(0, dot));
    if (dot < 1 || !Number.isSafeInteger(expiresAt) || expiresAt <= now) return undefined;
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.#sign(expiresAt), 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected) ? expiresAt : undefined;
  }

  #sign(expiresAt: number): string {
    return createHmac('sha256', this.#key).update(String(expiresAt)).digest('base64url');
  }

  #recordFailure(address: string, now: number): void {
    let bucket = this.#failures.get(address);
    if (bucket === undefined) {
      if (this.#failures.size >= MAX_TRACKED_ADDRESSES) {
        const oldest = this.#failures.keys().next().value;
        if (oldest !== undefined) this.#failures.delete(oldest);
      }
      bucket = new TokenBucket(SIGN_IN_RATE.perSecond, SIGN_IN_RATE.burst, now);
      this.#failures.set(address, bucket);
    }
    bucket.take(now);
  }
}

/** The `Set-Cookie` header for a session (or, with `undefined`, one that clears it). */
export function sessionCookieHeader(
  session: { readonly cookie: string; readonly expiresAt: number } | undefined,
  secure: boolean,
): string {
  const attributes = `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  if (session === undefined) return `${SESSION_COOKIE}=; Max-Age=0; ${attributes}`;
  const maxAge = Math.max(0, Math.floor((session.expiresAt - Date.now()) / 1000));
  return `${SESSION_COOKIE}=${session.cookie}; Max-Age=${maxAge}; ${attributes}`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
