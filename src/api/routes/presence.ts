/** GET /api/presence and GET /api/presence-stats: who is subscribed to a channel, on every node. */
import type { FastifyInstance } from 'fastify';
import { PRESENCE_MAX_LIMIT } from '../../node/command-params.ts';
import type { HeraldNode } from '../../node/node.ts';
import type { FromSchema } from '../schema-types.ts';
import { channelSchema, errorResponses } from '../schemas.ts';

const presenceQuery = {
  type: 'object',
  required: ['channel'],
  additionalProperties: false,
  properties: {
    channel: channelSchema,
    cursor: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description: "The previous page's `cursor`; omit for the first page.",
    },
    limit: {
      type: 'integer',
      minimum: 1,
      maximum: PRESENCE_MAX_LIMIT,
      description: `About this many clients per page (default 100, at most ${PRESENCE_MAX_LIMIT}).`,
    },
  },
} as const;

const statsQuery = {
  type: 'object',
  required: ['channel'],
  additionalProperties: false,
  properties: { channel: channelSchema },
} as const;

const clientSchema = {
  type: 'object',
  required: ['client', 'user'],
  properties: {
    client: { type: 'string', description: 'The connection id.' },
    user: { type: 'string', description: "The token's `sub` (empty for anonymous clients)." },
    info: { description: "The `info` claim of the client's token." },
  },
} as const;

export function registerPresenceRoutes(api: FastifyInstance, node: HeraldNode): void {
  api.get<{ Querystring: FromSchema<typeof presenceQuery> }>(
    '/presence',
    {
      schema: {
        tags: ['presence'],
        summary: "List a channel's subscribers on every node",
        description:
          'One page of the clients subscribed to the channel on every node, each with its client id, user and `info`; pages come in no particular order, and the last has no `cursor`. Channels whose namespace keeps no presence answer 400 HERALD_ERR_PRESENCE_DISABLED.',
        querystring: presenceQuery,
        response: {
          200: {
            type: 'object',
            required: ['clients'],
            properties: {
              clients: { type: 'array', items: clientSchema },
              cursor: {
                type: 'string',
                description: 'Pass it back for the next page; absent on the last page.',
              },
            },
          },
          ...errorResponses(400, 401, 500, 503),
        },
      },
    },
    async (request) => {
      const { channel, cursor, limit } = request.query;
      const page = await node.presence(channel, cursor, limit ?? 100);
      return page.cursor === undefined ? { clients: page.clients } : page;
    },
  );
  api.get<{ Querystring: FromSchema<typeof statsQuery> }>(
    '/presence-stats',
    {
      schema: {
        tags: ['presence'],
        summary: "Count a channel's subscribers on every node",
        description:
          'How many clients, and how many distinct users, are subscribed to the channel on every node. Kept as counters, so it costs the same for 10 subscribers as for 100,000.',
        querystring: statsQuery,
        response: {
          200: {
            type: 'object',
            required: ['clients', 'users'],
            properties: {
              clients: { type: 'integer', description: 'Clients subscribed.' },
              users: {
                type: 'integer',
                description: 'Distinct users among them (anonymous clients not counted).',
              },
            },
          },
          ...errorResponses(400, 401, 500, 503),
        },
      },
    },
    async (request) => node.presenceStats(request.query.channel),
  );
}
