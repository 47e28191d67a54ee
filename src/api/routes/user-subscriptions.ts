/** POST /api/subscribe and /api/unsubscribe: server-side subscription changes for every connection of a user. */
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../../node/node.ts';
import type { FromSchema } from '../schema-types.ts';
import { BODY_LIMIT_BYTES, channelSchema, errorResponses } from '../schemas.ts';

const body = {
  type: 'object',
  additionalProperties: false,
  required: ['user', 'channel'],
  properties: {
    user: { type: 'string', minLength: 1, description: "The user (the token's `sub`)." },
    channel: channelSchema,
  },
} as const;

type Body = FromSchema<typeof body>;

const missingNodes = {
  type: 'array',
  items: { type: 'string' },
  description:
    'Present when some live nodes did not answer within 3 seconds: their ids. They may hold connections of the user; call again.',
} as const;

export function registerUserSubscriptionRoutes(api: FastifyInstance, node: HeraldNode): void {
  api.post<{ Body: Body }>(
    '/subscribe',
    {
      bodyLimit: BODY_LIMIT_BYTES,
      schema: {
        tags: ['connections'],
        summary: "Subscribe a user's connections to a channel",
        description:
          "Subscribes every current connection of the user, on every node, to the channel, without the client's permission checks (the server decides). Each connection gets a `subscribe` push with the channel's position, then its publications. The subscription lasts as long as the connection: a client that reconnects is not subscribed again (personal channels are; see docs/api.md). 503 when the engine is unreachable.",
        body,
        response: {
          200: {
            type: 'object',
            required: ['subscribed'],
            properties: {
              subscribed: {
                type: 'integer',
                description:
                  'Connections newly subscribed, on all nodes (those already subscribed are not counted).',
              },
              missingNodes,
            },
          },
          ...errorResponses(400, 401, 413, 500, 503),
        },
      },
    },
    async (request) => {
      const result = await node.subscribeUser(request.body.user, request.body.channel);
      return result.missingNodes.length > 0 ? result : { subscribed: result.subscribed };
    },
  );
  api.post<{ Body: Body }>(
    '/unsubscribe',
    {
      bodyLimit: BODY_LIMIT_BYTES,
      schema: {
        tags: ['connections'],
        summary: "Unsubscribe a user's connections from a channel",
        description:
          'Ends the subscription to the channel of every current connection of the user, on every node, whether the client or the server made it. Each connection gets an `unsubscribe` push (code 2000). 503 when the engine is unreachable.',
        body,
        response: {
          200: {
            type: 'object',
            required: ['unsubscribed'],
            properties: {
              unsubscribed: {
                type: 'integer',
                description: 'Connections that were subscribed, on all nodes.',
              },
              missingNodes,
            },
          },
          ...errorResponses(400, 401, 413, 500, 503),
        },
      },
    },
    async (request) => {
      const result = await node.unsubscribeUser(request.body.user, request.body.channel);
      return result.missingNodes.length > 0 ? result : { unsubscribed: result.unsubscribed };
    },
  );
}
