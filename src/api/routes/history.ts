/** GET /api/history: a channel's stored publications and its current position. */
import type { FastifyInstance } from 'fastify';
import { HeraldError } from '../../core/errors.ts';
import { encodeHistoryResult } from '../../node/encode-results.ts';
import type { HeraldNode, HistoryOptions } from '../../node/node.ts';
import type { FromSchema } from '../schema-types.ts';
import { channelSchema, epochSchema, errorResponses, offsetSchema, publicationSchema } from '../schemas.ts';

const historyQuery = {
  type: 'object',
  required: ['channel'],
  additionalProperties: false,
  properties: {
    channel: channelSchema,
    since: {
      type: 'integer',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Only publications after this offset (exclusive). Omit to read from the oldest kept.',
    },
    epoch: {
      type: 'string',
      minLength: 1,
      description:
        "With `since`: the epoch the offset belongs to. If it is no longer the channel's epoch the answer is 409 HERALD_ERR_UNRECOVERABLE_POSITION.",
    },
    limit: {
      type: 'integer',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        "Most publications to return; capped by the server's history limit (default 1000). 0 returns only the position.",
    },
    reverse: { type: 'boolean', description: 'Newest first. Default false.' },
  },
} as const;

type HistoryQuery = FromSchema<typeof historyQuery>;

export function registerHistoryRoute(api: FastifyInstance, node: HeraldNode): void {
  api.get<{ Querystring: HistoryQuery }>(
    '/history',
    {
      schema: {
        tags: ['history'],
        summary: "Read a channel's history",
        description:
          "Returns publications from the channel's history in offset order (newest first with `reverse`), and the channel's current position: `offset` of the newest publication and `epoch`. Channels whose namespace keeps no history answer 400 HERALD_ERR_HISTORY_DISABLED.",
        querystring: historyQuery,
        response: {
          200: {
            type: 'object',
            description: "The publications and the channel's current position.",
            required: ['publications', 'offset', 'epoch'],
            properties: {
              publications: { type: 'array', items: publicationSchema },
              offset: { ...offsetSchema, description: 'Offset of the newest publication in the channel.' },
              epoch: epochSchema,
            },
          },
          ...errorResponses(400, 401, 409, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { channel, since, epoch, limit, reverse } = request.query;
      if (epoch !== undefined && since === undefined) {
        throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'querystring/epoch needs querystring/since');
      }
      const options: HistoryOptions = {
        ...(since === undefined
          ? {}
          : { since: epoch === undefined ? { offset: since } : { offset: since, epoch } }),
        ...(limit === undefined ? {} : { limit }),
        ...(reverse === undefined ? {} : { reverse }),
      };
      const { publications, offset, epoch: current } = await node.history(channel, options);
      // `data` is stored as JSON text: splice it in rather than parse and re-serialise every publication.
      const body = encodeHistoryResult({ publications, position: { offset, epoch: current } });
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );
}
