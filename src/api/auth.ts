/**
 * The server API key check: every protected route needs `Authorization: apikey <key>`. Keys are
 * compared as SHA-256 digests with `timingSafeEqual`, so neither the comparison time nor the length of
 * the configured key leaks through response timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { HeraldError } from '../core/errors.ts';
import { DASHBOARD_HEADER, type DashboardSessions } from '../ops/dashboard-session.ts';
import { fromDashboard } from '../transports/origin.ts';

/** The authorization scheme, matched case-insensitively as HTTP schemes are (RFC 9110, section 11.1). */
export const API_KEY_SCHEME = 'apikey';

/**
 * An `onRequest` hook rejecting requests without the right key with HERALD_ERR_INVALID_API_KEY. With
 * `dashboard`, a request with no Authorization header passes on a signed-in dashboard's cookie when
 * it also carries `X-Herald-Dashboard: 1`.
 */
export function apiKeyCheck(apiKey: string, dashboard?: DashboardSessions): onRequestAsyncHookHandler {
  const expected = digest(apiKey);
  /**
   * The header each kept-alive connection last passed the check with. A back end sends the same
   * header on every request of a connection, so the digest (4–7% of a publish's CPU) is computed
   * once per connection. Only a connection that already presented the right key has an entry; it is
   * compared in constant time all the same, because a proxy that reuses its upstream connections may
   * carry a guesser's requests on a connection the back end's requests passed on.
   */
  const accepted = new WeakMap<Socket, Buffer>();
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const socket = request.raw.socket;
    const known = accepted.get(socket);
    if (header !== undefined && known !== undefined && sameBytes(known, header)) return;
    if (header === undefined && dashboard !== undefined && request.headers[DASHBOARD_HEADER] !== undefined) {
      // Only from the dashboard's own pages: the cookie from another origin or site opens nothing.
      if (request.headers[DASHBOARD_HEADER] === '1' && fromDashboard(request.raw, dashboard) !== undefined)
        return;
      throw new HeraldError('HERALD_ERR_INVALID_API_KEY', 'the dashboard session expired: sign in again');
    }
    const given = presentedKey(header);
    if (!timingSafeEqual(digest(given), expected)) {
      throw new HeraldError('HERALD_ERR_INVALID_API_KEY', 'unknown API key');
    }
    if (header !== undefined) accepted.set(socket, Buffer.from(header));
  };
}

/** The key in an `Authorization: apikey <key>` header; throws saying what is wrong with the header. */
function presentedKey(header: string | undefined): string {
  if (header === undefined || header.trim() === '') {
    throw new HeraldError(
      'HERALD_ERR_INVALID_API_KEY',
      `missing Authorization header: send "Authorization: ${API_KEY_SCHEME} <key>"`,
    );
  }
  const value = header.trim();
  const space = value.search(/\s/);
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== API_KEY_SCHEME) {
    throw new HeraldError(
      'HERALD_ERR_INVALID_API_KEY',
      `wrong Authorization scheme: send "Authorization: ${API_KEY_SCHEME} <key>"`,
    );
  }
  const key = space === -1 ? '' : value.slice(space).trim();
  if (key === '') {
    throw new HeraldError('HERALD_ERR_INVALID_API_KEY', `missing API key after "${API_KEY_SCHEME}"`);
  }
  return key;
}

/**
 * Whether `header` is `known`, in a time that depends on neither's content: a header of another length
 * costs the same comparison, so not even the accepted header's length shows.
 */
function sameBytes(known: Buffer, header: string): boolean {
  const given = Buffer.from(header);
  if (given.length !== known.length) return !timingSafeEqual(known, known);
  return timingSafeEqual(given, known);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
