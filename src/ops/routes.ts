/** Operations endpoints: liveness and readiness for load balancers and Kubernetes probes, and the start page. */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../node/node.ts';
import type { Metrics } from './metrics.ts';
import { registerWebPages } from './web-pages.ts';

/** The client SDK's browser bundles, built by `npm install` (the `prepare` script). */
const SDK_DIST = new URL('../../packages/client/dist/', import.meta.url);
const SDK_BUNDLES = ['herald-client.js', 'herald-client.iife.js'];

export async function registerOps(
  app: FastifyInstance,
  { node, metrics }: { node: HeraldNode; metrics: Metrics },
): Promise<void> {
  await registerWebPages(app, { dashboardEnabled: node.config.dashboard });
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
  // Prometheus scrapes without credentials, as is usual: the figures are counts, never names or
  // data. Block the path at the proxy where the port is public (docs/operations.md).
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { contentType, body } = await metrics.text();
    return reply.type(contentType).send(body);
  });
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = node.ready;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', engine: node.engine });
  });
}
