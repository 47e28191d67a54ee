/** GET /api/info: what each node is and how busy it is. */
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../../node/node.ts';
import { errorResponses } from '../schemas.ts';

const nodeInfoSchema = {
  type: 'object',
  required: ['id', 'name', 'version', 'engine', 'uptime', 'connections', 'subscriptions', 'channels'],
  properties: {
    id: { type: 'string', description: 'Random id of this node process, new at every start.' },
    name: { type: 'string', description: 'The configured node name (HERALD_NODE_NAME).' },
    version: { type: 'string', description: 'Herald version.' },
    engine: { type: 'string', description: '"memory" or "redis".' },
    uptime: { type: 'integer', description: 'Seconds since the node started.' },
    connections: { type: 'integer', description: 'Client connections on this node.' },
    subscriptions: { type: 'integer', description: 'Subscriptions of those connections.' },
    channels: { type: 'integer', description: 'Channels with subscribers on this node.' },
  },
} as const;

export function registerInfoRoute(api: FastifyInstance, node: HeraldNode): void {
  api.get(
    '/info',
    {
      schema: {
        tags: ['server'],
        summary: 'Describe the nodes',
        description:
          'Describes the live Herald nodes of the deployment, the node answering first. Nodes announce themselves every 2 seconds through the engine; a node that stops (or dies) drops out within 6 seconds, at once after a clean shutdown. With the memory engine there is one node.',
        response: {
          200: {
            type: 'object',
            description: 'One entry per node.',
            required: ['nodes'],
            properties: { nodes: { type: 'array', items: nodeInfoSchema } },
          },
          ...errorResponses(401, 500),
        },
      },
    },
    async () => ({ nodes: node.nodes() }),
  );
}
