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
 * When a connection's request carries a signed-in dashboard's cookie and comes from the dashboard's
 * own pages, the sign-in's expiry (ms); otherwise undefined. Another site allowed by `allowedOrigins`
 * must not borrow the dashboard's powers, nor a page of a sibling subdomain loading the URL as an
 * image or script: same-origin requests (an EventSource) may come without an Origin header, so the
 * browser's Sec-Fetch-Site, where sent, must say same-origin too.
 */
export function fromDashboard(
  request: Pick<IncomingMessage, 'headers'>,
  sessions: DashboardSessions | undefined,
): number | undefined {
  if (sessions === undefined || !sameOrigin(request)) return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return undefined;
  return sessions.verify(request);
}
