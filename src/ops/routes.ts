/** Operations endpoints: liveness and readiness for load balancers and Kubernetes probes. */
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../node/node.ts';

export async function registerOps(app: FastifyInstance, { node }: { node: HeraldNode }): Promise<void> {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = node.ready;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', engine: node.engine });
  });
}
