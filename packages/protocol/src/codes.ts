/**
 * Numeric codes on the wire. Error codes travel in `error` replies; disconnect codes are WebSocket
 * close codes. docs/protocol.md lists every one of them (a test keeps it true).
 */

/** Codes of `error` replies. Stable: clients branch on them. */
export const ErrorCode = {
  /** Unexpected server failure. Temporary: retry later. */
  INTERNAL: 100,
  /** The token is missing, malformed, wrongly signed, or uses a forbidden algorithm. */
  UNAUTHORIZED: 101,
  /** The token is valid but its `exp` has passed. Get a fresh token. */
  TOKEN_EXPIRED: 102,
  /** The client may not do this on this channel (namespace options or the token's `channels` claim). */
  PERMISSION_DENIED: 103,
  /** The message names a command this server does not know. */
  UNKNOWN_COMMAND: 104,
  /** A field is missing, has the wrong type, or is out of range. */
  BAD_REQUEST: 105,
  /** The message is not valid JSON (or not a JSON object). */
  INVALID_JSON: 106,
  /** The channel name breaks the naming rules. */
  INVALID_CHANNEL: 107,
  /** A command other than `connect` (or `ping`) arrived before `connect` succeeded. */
  NOT_CONNECTED: 108,
  /** `connect` was sent twice on one connection. */
  ALREADY_CONNECTED: 109,
  /** The connection is already subscribed to this channel. */
  ALREADY_SUBSCRIBED: 110,
  /** The connection holds the maximum number of subscriptions. */
  TOO_MANY_SUBSCRIPTIONS: 111,
  /** The channel keeps no history, so history and recovery are not available. */
  HISTORY_DISABLED: 112,
  /** `since.epoch` names an older life of the channel's history; the position cannot be continued. */
  UNRECOVERABLE_POSITION: 113,
  /** The payload is larger than the configured limit. */
  PAYLOAD_TOO_LARGE: 114,
  /** The engine (Redis) cannot be reached. Temporary: retry later. */
  ENGINE_UNAVAILABLE: 115,
  /** The server API key is missing or unknown (HTTP API only). */
  INVALID_API_KEY: 116,
  /** No such route (HTTP API only). */
  NOT_FOUND: 117,
  /** The server is shutting down. Temporary: retry on another node. */
  SHUTTING_DOWN: 118,
  /** SSE only: no open SSE session with this client id and key on this node. */
  UNKNOWN_SESSION: 119,
  /** The user has the maximum number of connections on this node. */
  TOO_MANY_CONNECTIONS: 120,
  /** The connection sends commands faster than its limit. Temporary: slow down. */
  COMMAND_RATE_LIMITED: 121,
  /** The connection publishes faster than its limit. Temporary: slow down. */
  PUBLISH_RATE_LIMITED: 122,
  /** The channel's namespace keeps no presence. */
  PRESENCE_DISABLED: 123,
  /** HTTP only: the request's headers or body took longer to arrive than the server allows. Temporary. */
  REQUEST_TIMEOUT: 124,
  /** HTTP only: the request's headers are larger than the server accepts. */
  HEADERS_TOO_LARGE: 125,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * WebSocket close codes. 3000–3499: the client should reconnect (and recover its subscriptions);
 * 3500–3999: terminal, reconnecting with the same credentials will fail the same way;
 * 4000–4499: application-defined, reconnect; 4500–4999: application-defined, terminal.
 * Standard codes the WebSocket library sends itself: 1009 (frame over the size limit), 1002
 * (malformed WebSocket framing), 1007 (invalid UTF-8 in a text frame).
 */
export const DisconnectCode = {
  /** The server asked the client to reconnect (for example through the server API). */
  RECONNECT: 3000,
  /** The node is shutting down; reconnect to another node. */
  SHUTDOWN: 3001,
  /** Unexpected server failure. */
  INTERNAL: 3002,
  /** The connection's token expired and was not refreshed; reconnect with a fresh token. */
  TOKEN_EXPIRED: 3003,
  /** The client did not answer the server's pings. */
  NO_PONG: 3004,
  /** The client did not send `connect` in time after opening the connection. */
  CONNECT_TIMEOUT: 3005,
  /** The client did not read fast enough and its outbound buffer overflowed; reconnect and recover. */
  SLOW_CONSUMER: 3006,
  /** The server detected it may have missed publications; reconnect and recover. */
  INSUFFICIENT_STATE: 3007,
  /** The user already has the maximum number of connections; reconnect later. */
  CONNECTION_LIMIT: 3008,
  /** The token was rejected at connect. */
  UNAUTHORIZED: 3500,
  /** The client broke the protocol (for example a binary frame, or a failed `connect`). */
  BAD_REQUEST: 3501,
  /** The server disconnected the client for good (for example through the server API). */
  FORCED: 3502,
} as const;
export type DisconnectCode = (typeof DisconnectCode)[keyof typeof DisconnectCode];

/** Codes of `unsubscribe` pushes: why the server ended a subscription. */
export const UnsubscribeCode = {
  /** The server API unsubscribed the user from the channel. */
  SERVER: 2000,
} as const;
export type UnsubscribeCode = (typeof UnsubscribeCode)[keyof typeof UnsubscribeCode];

/** Whether a client should reconnect after the connection closed with `code`. */
export function shouldReconnect(code: number): boolean {
  if (code >= 3500 && code < 4000) return false;
  if (code >= 4500 && code < 5000) return false;
  return true;
}
