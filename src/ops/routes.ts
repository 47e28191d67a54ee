/** Operations endpoints: liveness and readiness for load balancers and Kubernetes probes, and the start page. */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../node/node.ts';

const WELCOME_PAGE = new URL('../../web/index.html', import.meta.url);
/** The client SDK's browser bundles, built by `npm install` (the `prepare` script). */
const SDK_DIST = new URL('../../packages/client/dist/', import.meta.url);
const SDK_BUNDLES = ['herald-client.js', 'herald-client.iife.js'];

export async function registerOps(app: FastifyInstance, { node }: { node: HeraldNode }): Promise<void> {
  const welcome = await readFile(WELCOME_PAGE, 'utf8');
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html').send(welcome));
  for (const bundle of SDK_BUNDLES) {
    app.get(`/sdk/${bundle}`, { schema: { hide: true } }, async (_request, reply) => {
      let code: string;
      try {
        code = await readFile(new URL(bundle, SDK_DIST), 'utf8');
      } catch {
        return reply
          .code(404)
          .type('text/plain')
          .send(`the client SDK bundle is not built: run "npm run build:client"`);
      }
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(code);
    });
  }
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = node.ready;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', engine: node.engine });
  });
}
