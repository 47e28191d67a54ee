/** GET /api/channels: the channels with subscribers, with how many. */
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../../node/node.ts';
import type { FromSchema } from '../schema-types.ts';
import { errorResponses } from '../schemas.ts';

const channelsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    pattern: {
      type: 'string',
      description:
        'Only channels matching this pattern: a channel name in which `*` stands for any run of characters, e.g. `chat:*`.',
      examples: ['chat:*'],
    },
  },
} as const;

type ChannelsQuery = FromSchema<typeof channelsQuery>;

export function registerChannelsRoute(api: FastifyInstance, node: HeraldNode): void {
  api.get<{ Querystring: ChannelsQuery }>(
    '/channels',
    {
      schema: {
        tags: ['channels'],
        summary: 'List active channels',
        description:
          'Lists the channels that have at least one subscriber on any node of the deployment, sorted by name, with their subscriber counts summed over the nodes. Every live node is asked; one that does not answer within 3 seconds is left out (and logged). 503 when the engine is unreachable.',
        querystring: channelsQuery,
        response: {
          200: {
            type: 'object',
            description: 'The channels with subscribers.',
            required: ['channels'],
            properties: {
              channels: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['channel', 'subscribers'],
                  properties: {
                    channel: { type: 'string' },
                    subscribers: {
                      type: 'integer',
                      description: 'Connections subscribed to the channel, on all nodes.',
                    },
                  },
                },
              },
              truncated: {
                type: 'boolean',
                description:
                  'Present (true) when some node has more than 10,000 matching channels and listed only the first 10,000; narrow the pattern.',
              },
              missingNodes: {
                type: 'array',
                items: { type: 'string' },
                description:
                  'Present when some live nodes did not answer within 3 seconds: their ids. Their subscribers are missing from the list.',
              },
            },
          },
          ...errorResponses(400, 401, 500, 503),
        },
      },
    },
    async (request) => {
      const { channels, missingNodes, truncated } = await node.channels(request.query.pattern);
      return {
        channels,
        ...(truncated ? { truncated } : {}),
        ...(missingNodes.length > 0 ? { missingNodes } : {}),
      };
    },
  );
}
