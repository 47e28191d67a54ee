/** The live connection of the dashboard's pages: Herald's own SDK, back to the server that served the page. */
import { Herald, type HeraldOptions } from '../../../packages/client/src/index.ts';

/** The WebSocket endpoint of the server that served this page. */
export function connectionUrl(): string {
  return `${location.origin.replace(/^http/, 'ws')}/connection/websocket`;
}

/**
 * A client that reconnects quickly: a dashboard should be live again within seconds of a restart, and
 * a handful of browser tabs is no reconnect storm.
 */
export function newClient(options: HeraldOptions = {}): Herald {
  return new Herald(connectionUrl(), { minReconnectDelay: 250, maxReconnectDelay: 4000, ...options });
}
