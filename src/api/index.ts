/**
 * The server HTTP API under /api: publish, broadcast, history, channels, info and disconnect, JSON in
 * and out, authenticated with `Authorization: apikey <key>`, described by /api/openapi.json. docs/api.md
 * is its readable form. Everything here is scoped to /api: the error body, validation rules, body
 * parsers and the key check do not touch other paths.
 */
import type { FastifyInstance } from 'fastify';
import type { HeraldNode } from '../node/node.ts';
import type { DashboardSessions } from '../ops/dashboard-session.ts';
import { apiKeyCheck } from './auth.ts';
import { installErrorHandling } from './errors.ts';
import { registerOpenApiGenerator, registerOpenApiRoute } from './openapi.ts';
import { registerChannelsRoute } from './routes/channels.ts';
import { registerDisconnectRoute } from './routes/disconnect.ts';
import { registerUserSubscriptionRoutes } from './routes/user-subscriptions.ts';
import { registerPresenceRoutes } from './routes/presence.ts';
import { registerHistoryRoute } from './routes/history.ts';
import { registerInfoRoute } from './routes/info.ts';
import { registerPublishRoutes } from './routes/publish.ts';
import { errorResponseSchema } from './schemas.ts';
import { installValidation } from './validation.ts';

export const API_PREFIX = '/api';

export interface ApiOptions {
  readonly node: HeraldNode;
  /** The key every protected route requires (HERALD_API_KEY). */
  readonly apiKey: string;
  /** The dashboard's sessions, whose cookie also opens the API; none when the dashboard is off. */
  readonly dashboard?: DashboardSessions;
}

export async function registerApi(app: FastifyInstance, options: ApiOptions): Promise<void> {
  await app.register(
    async (api) => {
      installErrorHandling(api, options.node.metrics);
      installValidation(api);
      api.addSchema(errorResponseSchema);
      await registerOpenApiGenerator(api, options.node.version);
      registerOpenApiRoute(api);
      await api.register(async (secured) => {
        secured.addHook('onRequest', apiKeyCheck(options.apiKey, options.dashboard));
        registerPublishRoutes(secured, options.node);
        registerHistoryRoute(secured, options.node);
        registerChannelsRoute(secured, options.node);
        registerInfoRoute(secured, options.node);
        registerDisconnectRoute(secured, options.node);
        registerUserSubscriptionRoutes(secured, options.node);
        registerPresenceRoutes(secured, options.node);
      });
    },
    { prefix: API_PREFIX },
  );
}
