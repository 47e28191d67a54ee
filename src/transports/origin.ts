/**
 * Origin check for browser connections, so a page on another site cannot open connections with a
 * user's cookies. Requests without an Origin header (servers, CLI tools) pass; browsers always send it.
 */
import type { IncomingMessage } from 'node:http';

export function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  // Same origin: a page served by this Herald (dashboard, demo) connecting back to it.
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
