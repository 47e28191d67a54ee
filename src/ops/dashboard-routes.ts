/**
 * The dashboard's HTTP endpoints: signing in and out (`/dashboard/api/session`), and the demo page's
 * tokens (`/demo/api/token`). Registered only when the dashboard is on. Errors have the server API's
 * shape, `{"error": {"code", "message"}}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mintToken } from '../auth/tokens.ts';
import { RateLimitedLog } from '../core/rate-limited-log.ts';
import type { HeraldConfig } from '../config/config.ts';
import { DEMO_NAMESPACE } from '../core/namespace.ts';
import type { HeraldNode } from '../node/node.ts';
import { fromDashboard } from '../transports/origin.ts';
import { DASHBOARD_HEADER, sessionCookieHeader, type DashboardSessions } from './dashboard-session.ts';

const DEMO_TOKEN_TTL_S = 60 * 60;
const DEMO_NAME = /^[^\p{Cc}]{1,32}$/u;

export function registerDashboardRoutes(
  app: FastifyInstance,
  { node, sessions }: { node: HeraldNode; sessions: DashboardSessions },
): void {
  const config = node.config;
  const hidden = { schema: { hide: true } };
  const refusals = new RateLimitedLog(node.logger, 'warn');

  app.get('/dashboard/api/session', hidden, async (request, reply) => {
    const expiresAt = sessions.verify(request.raw);
    if (expiresAt === undefined) return refuse(reply, 401, 'HERALD_ERR_UNAUTHORIZED', 'not signed in');
    return { signedIn: true, expiresAt };
  });

  app.post('/dashboard/api/session', hidden, async (request, reply) => {
    const secret = (request.body as { secret?: unknown } | null)?.secret;
    if (typeof secret !== 'string' || secret === '') {
      return refuse(reply, 400, 'HERALD_ERR_BAD_REQUEST', 'send {"secret": "<admin password or API key>"}');
    }
    const result = sessions.signIn(secret, request.ip);
    if (!result.ok) {
      refusals.log({ address: request.ip, reason: result.reason }, 'dashboard sign-in refused');
      return result.reason === 'rate-limited'
        ? refuse(reply, 429, 'HERALD_ERR_COMMAND_RATE_LIMITED', 'too many failed sign-ins: wait a minute')
        : refuse(reply, 401, 'HERALD_ERR_UNAUTHORIZED', 'wrong admin password or API key');
    }
    node.logger.info({ address: request.ip }, 'dashboard sign-in');
    reply.header('set-cookie', sessionCookieHeader(result, isHttps(request)));
    return { signedIn: true, expiresAt: result.expiresAt };
  });

  app.delete('/dashboard/api/session', hidden, async (request, reply) => {
    reply.header('set-cookie', sessionCookieHeader(undefined, isHttps(request)));
    return reply.code(204).send();
  });

  app.post('/demo/api/token', hidden, async (request, reply) => {
    if (request.headers[DASHBOARD_HEADER] !== '1' || fromDashboard(request.raw, sessions) === undefined) {
      return refuse(reply, 401, 'HERALD_ERR_UNAUTHORIZED', 'sign in to the dashboard first');
    }
    const name = (request.body as { name?: unknown } | null)?.name;
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (!DEMO_NAME.test(trimmed)) {
      return refuse(reply, 400, 'HERALD_ERR_BAD_REQUEST', '"name" must be 1-32 characters');
    }
    const token = await demoToken(config, trimmed);
    if (token === undefined) {
      return refuse(
        reply,
        400,
        'HERALD_ERR_BAD_REQUEST',
        'the demo signs its tokens with the token secret, and this deployment has none (HERALD_TOKEN_SECRET)',
      );
    }
    return { token, user: trimmed };
  });
}

/** A one-hour token for the demo's chat: the `demo` namespace only. */
async function demoToken(config: HeraldConfig, name: string): Promise<string | undefined> {
  if (config.tokenSecret === undefined) return undefined;
  return mintToken(config.tokenSecret, {
    user: name,
    ttlSeconds: DEMO_TOKEN_TTL_S,
    channels: [`${DEMO_NAMESPACE}:*`],
    info: { name },
    ...(config.tokenIssuer === undefined ? {} : { issuer: config.tokenIssuer }),
    ...(config.tokenAudience === undefined ? {} : { audience: config.tokenAudience }),
  });
}

function refuse(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

/** Whether the browser reached Herald over HTTPS: through a TLS-terminating proxy that is trusted. */
function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}
