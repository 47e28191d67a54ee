/**
 * Errors the SDK rejects with. Every one is an `Error` with a numeric `code`: Herald's error codes
 * (100–199, see docs/protocol.md) for errors the server replied with, and the codes of
 * {@link ClientErrorCode} (1–99) for errors the SDK itself detected.
 */

/** Codes of errors the SDK detects itself (the server's codes start at 100). */
export const ClientErrorCode = {
  /** No reply within the `timeout` option. */
  TIMEOUT: 1,
  /** The connection closed before the reply arrived; the call may or may not have taken effect. */
  CONNECTION_CLOSED: 2,
  /** The client was disconnected by the app (`disconnect()`), or the subscription unsubscribed. */
  CANCELLED: 3,
  /** The call needs a state the client or subscription is not in (for example a second subscription to one channel). */
  BAD_STATE: 4,
  /** `getToken` failed. */
  TOKEN_UNAVAILABLE: 5,
  /** The server sent something the SDK could not understand. */
  PROTOCOL: 6,
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Base of every error the SDK produces. */
export class HeraldError extends Error {
  /** A Herald error code (100–199) or a {@link ClientErrorCode} (1–99). */
  readonly code: number;
  /** Whether the same call may succeed if retried later. */
  readonly temporary: boolean;

  constructor(code: number, message: string, temporary = false, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.temporary = temporary;
  }
}

/** The server answered a command with an error (`code` is one of Herald's error codes). */
export class ServerError extends HeraldError {}

/** No reply arrived in time. */
export class TimeoutError extends HeraldError {
  constructor(what: string) {
    super(ClientErrorCode.TIMEOUT, `${what} timed out`, true);
  }
}

/** The connection closed (or was closed by the app) before the call finished. */
export class ConnectionClosedError extends HeraldError {}

/** The call does not fit the current state of the client or the subscription. */
export class StateError extends HeraldError {
  constructor(message: string) {
    super(ClientErrorCode.BAD_STATE, message);
  }
}
