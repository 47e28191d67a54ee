/**
 * JSON schemas shared by the server API's routes. They validate requests, shape responses and are the
 * source of the OpenAPI document, so descriptions here are what API users read.
 */
import { ERRORS } from '../core/errors.ts';

/** Every request body is capped at 1 MiB: a publication is meant to be a message, not a file. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * The body of a batch publish (POST /api/publish/batch) may be 8 MiB: up to 1000 publications, each
 * still at most 1 MiB of data. Bounded so that one request cannot hold a node's memory for long.
 */
export const BATCH_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** Name of the shared error body schema, added once with `addSchema` and referenced by every route. */
export const ERROR_SCHEMA_ID = 'ErrorResponse';

/** The error object inside every error body, and inside a failed broadcast or batch result. */
export const errorDetailSchema = {
  type: 'object',
  required: ['code', 'wireCode', 'message'],
  properties: {
    code: {
      type: 'string',
      enum: Object.keys(ERRORS),
      description: 'Stable error code; branch on this.',
    },
    wireCode: { type: 'integer', description: 'The numeric code the wire protocol uses for the same error.' },
    message: { type: 'string', description: 'Human-readable explanation; do not parse it.' },
  },
} as const;

export const errorResponseSchema = {
  $id: ERROR_SCHEMA_ID,
  type: 'object',
  description: 'The body of every error the server API answers with.',
  required: ['error'],
  properties: { error: errorDetailSchema },
} as const;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad request: a field is missing, has the wrong type or is out of range; an invalid channel name; a body that is not JSON.',
  401: 'Missing or unknown API key (HERALD_ERR_INVALID_API_KEY).',
  409: "The given epoch is not the channel's current epoch (HERALD_ERR_UNRECOVERABLE_POSITION).",
  413: 'The request body is larger than 1 MiB (HERALD_ERR_PAYLOAD_TOO_LARGE).',
  500: 'Unexpected server failure (HERALD_ERR_INTERNAL); retry later.',
  503: 'The engine is unreachable or the node is shutting down; retry later.',
};

/** Response schemas for the given error statuses, each referencing the shared error body. */
export function errorResponses(...statuses: number[]): Record<number, { description: string; $ref: string }> {
  const out: Record<number, { description: string; $ref: string }> = {};
  for (const status of statuses) {
    out[status] = { description: STATUS_TEXT[status] ?? 'Error', $ref: `${ERROR_SCHEMA_ID}#` };
  }
  return out;
}

export const channelSchema = {
  type: 'string',
  description:
    'Channel name: 1–255 characters from A–Z a–z 0–9 _ - . : @ = / +. The part before the first ":" is the namespace.',
  examples: ['chat:room-42'],
} as const;

export const dataSchema = {
  description:
    'Any JSON value (object, array, string, number, boolean or null), delivered to subscribers as is.',
  examples: [{ text: 'hello' }],
} as const;

export const idempotencyKeySchema = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  description:
    "Makes retries safe: a publish repeating a key already used on the channel within the server's idempotency window (default 5 minutes) is not published again and answers the first publish's result.",
} as const;

export const offsetSchema = {
  type: 'integer',
  minimum: 0,
  description: "Position in the channel's history; grows by one per publication.",
} as const;

export const epochSchema = {
  type: 'string',
  description: "Names the current life of the channel's history; changes when the history is lost.",
} as const;

/** Where a publication landed; both fields are absent where the channel keeps no history. */
export const positionSchema = {
  type: 'object',
  description: 'The position of the publication; empty where the channel keeps no history.',
  properties: { offset: offsetSchema, epoch: epochSchema },
} as const;

export const publicationSchema = {
  type: 'object',
  required: ['data', 'time'],
  properties: {
    offset: offsetSchema,
    epoch: epochSchema,
    data: dataSchema,
    info: {
      type: 'object',
      description: 'The publishing client, when a client (not the server API) published.',
      required: ['client', 'user'],
      properties: {
        client: { type: 'string' },
        user: { type: 'string' },
        info: { description: "The `info` claim of the client's token." },
      },
    },
    time: {
      type: 'integer',
      description: 'Milliseconds since the Unix epoch at which the node accepted it.',
    },
  },
} as const;
