import { describe, expect, it } from 'vitest';
import { HeraldError } from '../core/errors.ts';
import { errorBody, toApiError } from './errors.ts';

/** An error shaped like fastify's own (`code` and `statusCode` properties). */
function fastifyError(code: string, statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

describe('toApiError', () => {
  it('keeps Herald errors as they are', () => {
    const error = new HeraldError('HERALD_ERR_HISTORY_DISABLED', 'no history');
    expect(toApiError(error)).toBe(error);
  });

  it.each([
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'HERALD_ERR_PAYLOAD_TOO_LARGE'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'HERALD_ERR_BAD_REQUEST'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'HERALD_ERR_INVALID_JSON'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'HERALD_ERR_INVALID_JSON'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'HERALD_ERR_BAD_REQUEST'],
  ])('maps %s to %s', (code, status, expected) => {
    expect(toApiError(fastifyError(code, status, 'x')).code).toBe(expected);
  });

  it('answers anything unexpected as internal, keeping the cause but not its message', () => {
    const cause = new Error('ECONNREFUSED 10.0.0.7:6379');
    const error = toApiError(cause);
    expect(error.code).toBe('HERALD_ERR_INTERNAL');
    expect(error.cause).toBe(cause);
    expect(errorBody(error)).toEqual({
      error: { code: 'HERALD_ERR_INTERNAL', wireCode: 100, message: 'internal server error' },
    });
    expect(toApiError('a string').code).toBe('HERALD_ERR_INTERNAL');
    expect(toApiError(fastifyError('FST_ERR_SOMETHING', 500, 'boom')).code).toBe('HERALD_ERR_INTERNAL');
  });
});
