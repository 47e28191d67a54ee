/** Starts real Herald servers and protocol clients on loopback for integration tests. */
import pino, { type Logger } from 'pino';
import type { HeraldConfig } from '../../src/config/config.ts';
import { mintToken, type MintOptions } from '../../src/auth/tokens.ts';
import { ProtocolClient, type ProtocolClientOptions } from '../../src/cli/protocol-client.ts';
import { startHerald, type HeraldServer } from '../../src/server.ts';
import { TEST_TOKEN_SECRET, testConfig } from './config.ts';

export interface TestHerald extends HeraldServer {
  readonly config: HeraldConfig;
  readonly wsUrl: string;
  /** A token signed with this server's secret (default user "alice", no expiry). */
  token(options?: Partial<MintOptions>): Promise<string>;
  /** A protocol client, already connected with a token unless `token: null`. */
  client(options?: ProtocolClientOptions & { token?: string | null }): Promise<ProtocolClient>;
  /** Publishes through the HTTP API. */
  publish(
    channel: string,
    data: unknown,
    idempotencyKey?: string,
  ): Promise<{ offset?: number; epoch?: string }>;
}

/** Starts a Herald on loopback with {@link testConfig}; its logs go nowhere unless a `logger` is given. */
export async function startTestHerald(
  overrides: Partial<HeraldConfig> = {},
  options: { logger?: Logger } = {},
): Promise<TestHerald> {
  const config = testConfig(overrides);
  const server = await startHerald(config, { logger: options.logger ?? pino({ level: 'silent' }) });
  const wsUrl = `${server.url.replace(/^http/, 'ws')}/connection/websocket`;
  const token = (options: Partial<MintOptions> = {}) =>
    mintToken(config.tokenSecret ?? TEST_TOKEN_SECRET, { user: 'alice', ...options });
  return {
    ...server,
    close: () => server.close(),
    config,
    wsUrl,
    token,
    async client(options = {}) {
      const client = await ProtocolClient.open(wsUrl, options);
      if (options.token !== null) await client.call('connect', { token: options.token ?? (await token()) });
      return client;
    },
    async publish(channel, data, idempotencyKey) {
      const response = await fetch(`${server.url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `apikey ${config.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) }),
      });
      const body = (await response.json()) as { offset?: number; epoch?: string };
      if (!response.ok) throw new Error(`publish failed: ${response.status} ${JSON.stringify(body)}`);
      return body;
    },
  };
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
