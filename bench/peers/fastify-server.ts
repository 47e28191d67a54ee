/**
 * The HTTP ceiling for `publish-api`: a bare Fastify route in the same Node and Fastify as Herald's
 * API, which parses the JSON body with Fastify's default parser and answers a fixed small JSON,
 * doing nothing else (no authentication, no schema, no engine). What Herald's publish endpoint adds
 * on top of this is what Herald costs.
 *
 *   PORT=9200 node bin/run-ts.js bench/peers/fastify-server.ts
 */
import Fastify from 'fastify';
import { PEER_BACKLOG } from './http.ts';

const port = Number(process.env['PORT'] ?? 9200);

const app = Fastify({ logger: false });

app.get('/readyz', async () => ({ ok: true }));

// The shape of Herald's publish answer: a position in the channel's history.
app.post('/publish', async (request) => {
  if (typeof request.body !== 'object' || request.body === null) throw new Error('expected a JSON object');
  return { offset: 1, epoch: 'bench' };
});

await app.listen({ port, host: '127.0.0.1', backlog: PEER_BACKLOG });
console.error(`fastify peer listening on ${port}`);
process.on('SIGTERM', () => process.exit(0));
