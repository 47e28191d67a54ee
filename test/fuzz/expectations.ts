/**
 * What the documentation promises about answers, as checks the fuzzers apply: which error and close
 * codes exist, and which replies a frame must get (docs/protocol.md, "Commands and replies").
 */
import { readFileSync } from 'node:fs';
import { DisconnectCode, ErrorCode, splitFrame } from '@herald/protocol';
import { ERRORS, type ErrorName } from '../../src/core/errors.ts';

const PROTOCOL_DOC = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
/** The numbers in the first cell of docs/protocol.md's table rows: `| 105  | …`, `| 1002, 1007 | …`. */
const DOCUMENTED = new Set(
  [...PROTOCOL_DOC.matchAll(/^\|\s*(\d+(?:,\s*\d+)*)\s*\|/gm)].flatMap((match) =>
    (match[1] ?? '').split(',').map((code) => Number(code.trim())),
  ),
);

/** Error codes a reply may carry: those in codes.ts (ErrorCode) that docs/protocol.md lists. */
export const ERROR_CODES: ReadonlySet<number> = new Set(
  Object.values(ErrorCode).filter((code: number) => DOCUMENTED.has(code)),
);

/**
 * Close codes a client may see: Herald's disconnect codes (DisconnectCode) and the standard ones
 * (1002 bad framing, 1007 invalid UTF-8, 1008 policy, 1009 frame too large) that docs/protocol.md
 * lists, and 1000, the server's answer to the client's own normal close.
 */
export const CLOSE_CODES: ReadonlySet<number> = new Set([
  1000,
  ...[...Object.values(DisconnectCode), 1002, 1007, 1008, 1009].filter((code: number) =>
    DOCUMENTED.has(code),
  ),
]);

/** Codes that mean the server failed rather than the client: a fuzzer finding even though documented. */
export const INTERNAL_ERROR_CODE = ErrorCode.INTERNAL;
export const INTERNAL_CLOSE_CODE = DisconnectCode.INTERNAL;

/** The reply a message must get: the command's id (`null`: an error reply without id), and its method. */
export interface ExpectedReply {
  readonly id: number | null;
  readonly method: string | undefined;
}

/**
 * The replies the messages of a text frame must get, in order: one per message, carrying the
 * command's id, or no id when the message is not JSON, not an object, or has no valid id; none for an
 * answer to a server ping (a message with a `pong` key). Empty lines are skipped.
 */
export function expectedReplies(frame: string): ExpectedReply[] {
  const out: ExpectedReply[] = [];
  for (const message of splitFrame(frame)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      out.push({ id: null, method: undefined });
      continue;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      out.push({ id: null, method: undefined });
      continue;
    }
    if ('pong' in parsed) continue;
    const id = (parsed as { id?: unknown }).id;
    const keys = Object.keys(parsed).filter((key) => key !== 'id');
    out.push({
      id: typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null,
      method: keys.length === 1 ? keys[0] : undefined,
    });
  }
  return out;
}

/** A problem with an HTTP error body, or undefined when it is `{"error": {"code": "HERALD_ERR_…", "message"}}` with the code's status. */
export function errorBodyProblem(
  status: number,
  contentType: string | undefined,
  text: string,
): string | undefined {
  if (!(contentType ?? '').startsWith('application/json')) return `content-type ${contentType ?? '(none)'}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${text.slice(0, 80)}`;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error !== 'object' || error === null) return `no "error" object: ${text.slice(0, 120)}`;
  if (typeof error.code !== 'string' || !(error.code in ERRORS)) return `unknown code ${String(error.code)}`;
  if (typeof error.message !== 'string') return 'no message';
  const expected = ERRORS[error.code as ErrorName].http;
  if (expected !== status) return `${error.code} answered with HTTP ${status}, catalogue says ${expected}`;
  return undefined;
}
