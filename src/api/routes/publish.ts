/** POST /api/publish and POST /api/broadcast: send JSON data to one channel or to many. */
import type { FastifyInstance } from 'fastify';
import { HeraldError, toHeraldError } from '../../core/errors.ts';
import type { HeraldNode } from '../../node/node.ts';
import { errorBody } from '../errors.ts';
import type { FromSchema } from '../schema-types.ts';
import {
  BODY_LIMIT_BYTES,
  channelSchema,
  dataSchema,
  epochSchema,
  errorDetailSchema,
  errorResponses,
  idempotencyKeySchema,
  offsetSchema,
  positionSchema,
} from '../schemas.ts';

/** Most channels one broadcast may name. */
export const BROADCAST_MAX_CHANNELS = 1000;

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

type PublishBody = FromSchema<typeof publishBody>;
type BroadcastBody = FromSchema<typeof broadcastBody>;

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
      const results = outcomes.map((outcome, i) => {
        const channel = channels[i] ?? '';
        if (outcome.status === 'fulfilled') return { channel, ...outcome.value };
        const error = toHeraldError(outcome.reason);
        if (error.code === 'HERALD_ERR_INTERNAL') {
          request.log.error({ err: outcome.reason, channel }, 'broadcast to a channel failed');
        }
        return { channel, ...errorBody(error) };
      });
      return { results };
    },
  );
}
