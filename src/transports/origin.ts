/**
 * Origin check for browser connections, so a page on another site cannot open connections with a
 * user's cookies. Requests without an Origin header (servers, CLI tools) pass; browsers always send it.
 */
import type { IncomingMessage } from 'node:http';
import type { DashboardSessions } from '../ops/dashboard-session.ts';

export function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  // Same origin: a page served by this Herald (dashboard, demo) connecting back to it.
  return sameOrigin(request);
}

/** Whether the request comes from a page served by this Herald (or from no page at all). */
export function sameOrigin(request: Pick<IncomingMessage, 'headers'>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * Whether a connection's request carries a signed-in dashboard's cookie, from the dashboard's own
 * pages: another site allowed by `allowedOrigins` must not borrow the dashboard's powers.
 */
export function fromDashboard(
  request: Pick<IncomingMessage, 'headers'>,
  sessions: DashboardSessions | undefined,
): boolean {
  return sessions !== undefined && sameOrigin(request) && sessions.verify(request) !== undefined;
}
