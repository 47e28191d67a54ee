/**
 * POST /api/publish, /api/broadcast and /api/publish/batch: send JSON data to one channel, the same
 * data to many channels, or many publications at once.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HeraldError, toHeraldError } from '../../core/errors.ts';
import type { BatchOutcome, BatchPublication, HeraldNode } from '../../node/node.ts';
import { errorBody, type ErrorBody } from '../errors.ts';
import type { FromSchema } from '../schema-types.ts';
import {
  BATCH_BODY_LIMIT_BYTES,
  BODY_LIMIT_BYTES,
  channelSchema,
  dataSchema,
  ERROR_SCHEMA_ID,
  epochSchema,
  errorDetailSchema,
  errorResponses,
  idempotencyKeySchema,
  offsetSchema,
  positionSchema,
} from '../schemas.ts';

/** Most channels one broadcast may name. */
export const BROADCAST_MAX_CHANNELS = 1000;

/** Most publications one batch publish may carry. */
export const BATCH_MAX_PUBLICATIONS = 1000;

/**
 * Most bytes of one batch publication's data, as JSON text: what a single publish can carry, so a
 * batch is no way around that limit. A larger one fails alone (HERALD_ERR_PAYLOAD_TOO_LARGE).
 */
export const BATCH_DATA_LIMIT_BYTES = BODY_LIMIT_BYTES;

const publishBody = {
  type: 'object',
  required: ['channel', 'data'],
  additionalProperties: false,
  properties: { channel: channelSchema, data: dataSchema, idempotencyKey: idempotencyKeySchema },
} as const;

const broadcastBody = {
  type: 'object',
  required: ['channels', 'data'],
  additionalProperties: false,
  properties: {
    channels: {
      type: 'array',
      minItems: 1,
      maxItems: BROADCAST_MAX_CHANNELS,
      uniqueItems: true,
      items: channelSchema,
      description: `The channels to publish to: 1 to ${BROADCAST_MAX_CHANNELS} distinct names.`,
    },
    data: dataSchema,
    idempotencyKey: {
      ...idempotencyKeySchema,
      description: `${idempotencyKeySchema.description} Applies per channel: a retried broadcast publishes only to the channels that did not get it.`,
    },
  },
} as const;

const batchBody = {
  type: 'object',
  required: ['publications'],
  additionalProperties: false,
  properties: {
    publications: {
      type: 'array',
      minItems: 1,
      maxItems: BATCH_MAX_PUBLICATIONS,
      items: publishBody,
      description: `The publications, 1 to ${BATCH_MAX_PUBLICATIONS}, each as the body of a single publish. Those to the same channel are published in this order.`,
    },
  },
} as const;

const broadcastResult = {
  type: 'object',
  required: ['channel'],
  description: 'The outcome for one channel: its position (absent where it keeps no history), or an error.',
  properties: {
    channel: { type: 'string' },
    offset: offsetSchema,
    epoch: epochSchema,
    error: errorDetailSchema,
  },
} as const;

const batchResult = {
  ...broadcastResult,
  description:
    'The outcome for one publication: its channel and position (absent where the channel keeps no history), or an error.',
} as const;

type PublishBody = FromSchema<typeof publishBody>;
type BroadcastBody = FromSchema<typeof broadcastBody>;
type BatchBody = FromSchema<typeof batchBody>;

const BATCH_FAILED = 'batch publication failed';

/** One entry of a broadcast's or a batch's results. */
type ChannelResult = { channel: string; offset?: number; epoch?: string } | ({ channel: string } & ErrorBody);

/**
 * The JSON text of a request's `data`. JSON.parse copes with any nesting but JSON.stringify recurses,
 * so data nested deeply enough (some 100,000 levels) overflows the stack: that is the client's fault.
 */
function encodeData(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'data is nested too deeply', { cause: err });
    }
    throw err;
  }
}

export function registerPublishRoutes(api: FastifyInstance, node: HeraldNode): void {
  api.post<{ Body: PublishBody }>(
    '/publish',
    {
      bodyLimit: BODY_LIMIT_BYTES,
      schema: {
        tags: ['publishing'],
        summary: 'Publish to a channel',
        description:
          'Publishes JSON data to one channel. Answers once the publication is stored in the channel history (where it keeps one) and sent to subscribers.',
        body: publishBody,
        response: { 200: positionSchema, ...errorResponses(400, 401, 413, 500, 503) },
      },
    },
    async (request) => {
      const { channel, data, idempotencyKey } = request.body;
      return node.publish(channel, encodeData(data), idempotencyKey === undefined ? {} : { idempotencyKey });
    },
  );

  api.post<{ Body: BroadcastBody }>(
    '/broadcast',
    {
      bodyLimit: BODY_LIMIT_BYTES,
      schema: {
        tags: ['publishing'],
        summary: 'Publish to many channels',
        description:
          'Publishes the same JSON data to each channel. Each channel succeeds or fails on its own: one failing channel does not fail the others, and the results list every channel in request order.',
        body: broadcastBody,
        response: {
          200: {
            type: 'object',
            description: 'One result per channel, in request order.',
            required: ['results'],
            properties: { results: { type: 'array', items: broadcastResult } },
          },
          ...errorResponses(400, 401, 413, 500),
        },
      },
    },
    async (request) => {
      const { channels, data, idempotencyKey } = request.body;
      const text = encodeData(data);
      const options = idempotencyKey === undefined ? {} : { idempotencyKey };
      const outcomes = await Promise.allSettled(
        channels.map((channel) => node.publish(channel, text, options)),
      );
      const results = outcomes.map((outcome, i) =>
        channelResult(request, channels[i] ?? '', outcome, 'broadcast to a channel failed'),
      );
      return { results };
    },
  );

  api.post<{ Body: BatchBody }>(
    '/publish/batch',
    {
      bodyLimit: BATCH_BODY_LIMIT_BYTES,
      schema: {
        tags: ['publishing'],
        summary: 'Publish many publications at once',
        description: `Publishes up to ${BATCH_MAX_PUBLICATIONS} publications, to one channel or many, in one request (body up to 8 MiB, data of each publication up to 1 MiB). Each publication succeeds or fails on its own, and the results list every publication in request order. Publications to the same channel are stored and delivered in request order; they get consecutive offsets (apart from idempotency repeats) when there are at most 200 of them and 1 MiB in all, and otherwise in runs of that size, between which other publishers' publications may fall.`,
        body: batchBody,
        response: {
          200: {
            type: 'object',
            description: 'One result per publication, in request order.',
            required: ['results'],
            properties: { results: { type: 'array', items: batchResult } },
          },
          ...errorResponses(400, 401, 413, 500, 503),
          413: {
            description: 'The request body is larger than 8 MiB (HERALD_ERR_PAYLOAD_TOO_LARGE).',
            $ref: `${ERROR_SCHEMA_ID}#`,
          },
        },
      },
    },
    async (request) => {
      const results: ChannelResult[] = [];
      // Data that cannot be sent (nested too deeply, too large) fails its publication alone.
      const accepted: { index: number; publication: BatchPublication }[] = [];
      request.body.publications.forEach(({ channel, data, idempotencyKey }, index) => {
        try {
          const text = encodeBatchData(data);
          const publication = {
            channel,
            data: text,
            ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
          };
          accepted.push({ index, publication });
        } catch (err) {
          results[index] = channelResult(request, channel, { status: 'rejected', reason: err }, BATCH_FAILED);
        }
      });
      const outcomes = await node.publishBatch(accepted.map((entry) => entry.publication));
      accepted.forEach(({ index, publication }, i) => {
        const outcome = outcomes[i] as BatchOutcome;
        results[index] = channelResult(request, publication.channel, outcome, BATCH_FAILED);
      });
      return { results };
    },
  );
}

/** A broadcast's or batch's result for one publication; unexpected failures are logged with `failed`. */
function channelResult(
  request: FastifyRequest,
  channel: string,
  outcome: BatchOutcome,
  failed: string,
): ChannelResult {
  if (outcome.status === 'fulfilled') return { channel, ...outcome.value };
  const error = toHeraldError(outcome.reason);
  if (error.code === 'HERALD_ERR_INTERNAL') request.log.error({ err: outcome.reason, channel }, failed);
  return { channel, ...errorBody(error) };
}

/** encodeData, and a batch publication's data may not be larger than a single publish could carry. */
function encodeBatchData(data: unknown): string {
  const text = encodeData(data);
  // A UTF-16 unit takes at most 3 bytes of UTF-8: most texts need no count.
  if (text.length * 3 > BATCH_DATA_LIMIT_BYTES && Buffer.byteLength(text) > BATCH_DATA_LIMIT_BYTES) {
    throw new HeraldError(
      'HERALD_ERR_PAYLOAD_TOO_LARGE',
      `data is larger than ${BATCH_DATA_LIMIT_BYTES} bytes as JSON`,
    );
  }
  return text;
}
