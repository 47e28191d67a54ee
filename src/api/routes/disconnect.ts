/** POST /api/disconnect: close a user's or one client's connections. */
import type { FastifyInstance } from 'fastify';
import { HeraldError } from '../../core/errors.ts';
import type { DisconnectTarget, HeraldNode } from '../../node/node.ts';
import type { FromSchema } from '../schema-types.ts';
import { BODY_LIMIT_BYTES, errorResponses } from '../schemas.ts';

const disconnectBody = {
  type: 'object',
  additionalProperties: false,
  description: 'Exactly one of `user` or `client`.',
  oneOf: [{ required: ['user'] }, { required: ['client'] }],
  properties: {
    user: {
      type: 'string',
      minLength: 1,
      description: "Closes every connection of this user (the token's `sub`).",
    },
    client: {
      type: 'string',
      minLength: 1,
      description: 'Closes this one connection (the id its connect reply gave).',
    },
    reconnect: {
      type: 'boolean',
      description:
        'Whether the clients may reconnect: true closes with code 3000 (reconnect), false (default) with 3502 (terminal).',
    },
  },
} as const;

type DisconnectBody = FromSchema<typeof disconnectBody>;

export function registerDisconnectRoute(api: FastifyInstance, node: HeraldNode): void {
  api.post<{ Body: DisconnectBody }>(
    '/disconnect',
    {
      bodyLimit: BODY_LIMIT_BYTES,
      schema: {
        tags: ['connections'],
        summary: 'Disconnect a user or a client',
        description:
          'Closes the connections of a user, or one client connection, on every node of the deployment, and answers how many were closed (0 when none matched). 503 when the engine is unreachable.',
        body: disconnectBody,
        response: {
          200: {
            type: 'object',
            description: 'How many connections were closed.',
            required: ['disconnected'],
            properties: {
              disconnected: { type: 'integer', description: 'Connections closed, on all nodes.' },
              missingNodes: {
                type: 'array',
                items: { type: 'string' },
                description:
                  'Present when some live nodes did not answer within 3 seconds: their ids. They may still hold connections of the target; call again.',
              },
            },
          },
          ...errorResponses(400, 401, 413, 500, 503),
        },
      },
    },
    async (request) => {
      const { user, client, reconnect } = request.body;
      const target: DisconnectTarget | undefined =
        user !== undefined ? { user } : client !== undefined ? { client } : undefined;
      // The schema's oneOf already guarantees this; the check keeps the types honest.
      if (target === undefined)
        throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'body must have exactly one of user, client');
      const result = await node.disconnect(target, reconnect === undefined ? {} : { reconnect });
      return result.missingNodes.length > 0 ? result : { disconnected: result.disconnected };
    },
  );
}
