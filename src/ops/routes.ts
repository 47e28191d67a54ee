/** Operations endpoints: liveness and readiness for load balancers and Kubernetes probes, and the start page. */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../node/node.ts';

const WELCOME_PAGE = new URL('../../web/index.html', import.meta.url);

export async function registerOps(app: FastifyInstance, { node }: { node: HeraldNode }): Promise<void> {
  const welcome = await readFile(WELCOME_PAGE, 'utf8');
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html').send(welcome));
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = node.ready;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', engine: node.engine });
  });
}
