/**
 * The one catalogue of Herald errors. Each has a stable string code (logs, HTTP API bodies), the
 * numeric code used on the wire, the HTTP status the server API answers with, and whether the same
 * request may succeed later. docs/protocol.md and docs/api.md list them; a test keeps that true.
 */
import { ErrorCode } from '@herald/protocol';

interface ErrorSpec {
  readonly wire: ErrorCode;
  readonly http: number;
  readonly temporary: boolean;
}

export const ERRORS = {
  HERALD_ERR_INTERNAL: { wire: ErrorCode.INTERNAL, http: 500, temporary: true },
  HERALD_ERR_UNAUTHORIZED: { wire: ErrorCode.UNAUTHORIZED, http: 401, temporary: false },
  HERALD_ERR_TOKEN_EXPIRED: { wire: ErrorCode.TOKEN_EXPIRED, http: 401, temporary: false },
  HERALD_ERR_PERMISSION_DENIED: { wire: ErrorCode.PERMISSION_DENIED, http: 403, temporary: false },
  HERALD_ERR_UNKNOWN_COMMAND: { wire: ErrorCode.UNKNOWN_COMMAND, http: 400, temporary: false },
  HERALD_ERR_BAD_REQUEST: { wire: ErrorCode.BAD_REQUEST, http: 400, temporary: false },
  HERALD_ERR_INVALID_JSON: { wire: ErrorCode.INVALID_JSON, http: 400, temporary: false },
  HERALD_ERR_INVALID_CHANNEL: { wire: ErrorCode.INVALID_CHANNEL, http: 400, temporary: false },
  HERALD_ERR_NOT_CONNECTED: { wire: ErrorCode.NOT_CONNECTED, http: 400, temporary: false },
  HERALD_ERR_ALREADY_CONNECTED: { wire: ErrorCode.ALREADY_CONNECTED, http: 400, temporary: false },
  HERALD_ERR_ALREADY_SUBSCRIBED: { wire: ErrorCode.ALREADY_SUBSCRIBED, http: 409, temporary: false },
  HERALD_ERR_TOO_MANY_SUBSCRIPTIONS: { wire: ErrorCode.TOO_MANY_SUBSCRIPTIONS, http: 429, temporary: false },
  HERALD_ERR_HISTORY_DISABLED: { wire: ErrorCode.HISTORY_DISABLED, http: 400, temporary: false },
  HERALD_ERR_UNRECOVERABLE_POSITION: { wire: ErrorCode.UNRECOVERABLE_POSITION, http: 409, temporary: false },
  HERALD_ERR_PAYLOAD_TOO_LARGE: { wire: ErrorCode.PAYLOAD_TOO_LARGE, http: 413, temporary: false },
  HERALD_ERR_ENGINE_UNAVAILABLE: { wire: ErrorCode.ENGINE_UNAVAILABLE, http: 503, temporary: true },
  HERALD_ERR_INVALID_API_KEY: { wire: ErrorCode.INVALID_API_KEY, http: 401, temporary: false },
  HERALD_ERR_NOT_FOUND: { wire: ErrorCode.NOT_FOUND, http: 404, temporary: false },
  HERALD_ERR_SHUTTING_DOWN: { wire: ErrorCode.SHUTTING_DOWN, http: 503, temporary: true },
  HERALD_ERR_UNKNOWN_SESSION: { wire: ErrorCode.UNKNOWN_SESSION, http: 404, temporary: false },
  HERALD_ERR_TOO_MANY_CONNECTIONS: { wire: ErrorCode.TOO_MANY_CONNECTIONS, http: 429, temporary: true },
  HERALD_ERR_COMMAND_RATE_LIMITED: { wire: ErrorCode.COMMAND_RATE_LIMITED, http: 429, temporary: true },
  HERALD_ERR_PUBLISH_RATE_LIMITED: { wire: ErrorCode.PUBLISH_RATE_LIMITED, http: 429, temporary: true },
  HERALD_ERR_PRESENCE_DISABLED: { wire: ErrorCode.PRESENCE_DISABLED, http: 400, temporary: false },
  HERALD_ERR_REQUEST_TIMEOUT: { wire: ErrorCode.REQUEST_TIMEOUT, http: 408, temporary: true },
  HERALD_ERR_HEADERS_TOO_LARGE: { wire: ErrorCode.HEADERS_TOO_LARGE, http: 431, temporary: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ERRORS;

/** Every error Herald reports on purpose. Anything else reaching a boundary is reported as internal. */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';
  readonly code: ErrorName;

  constructor(code: ErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  get wireCode(): ErrorCode {
    return ERRORS[this.code].wire;
  }
  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
  get temporary(): boolean {
    return ERRORS[this.code].temporary;
  }
}

/** Turns anything thrown into a HeraldError, hiding the details of unexpected failures. */
export function toHeraldError(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err;
  return new HeraldError('HERALD_ERR_INTERNAL', 'internal server error', { cause: err });
}
