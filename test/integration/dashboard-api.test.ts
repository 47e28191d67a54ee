/**
 * The dashboard's server side over real HTTP and WebSocket: signing in with the API key or the admin
 * password, the cookie opening the API (with its header) and the dashboard's own connection, Herald's
 * `$herald:stats` channel kept to that connection, the demo's tokens, and a dashboard that is off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { DashboardSessions } from '../../src/ops/dashboard-session.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { ProtocolError } from '../../src/cli/protocol-client.ts';
import { TEST_API_KEY } from '../helpers/config.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

const ADMIN_PASSWORD = 'correct-horse-battery-staple';
let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald({
    adminPassword: ADMIN_PASSWORD,
    namespaces: { room: { ...DEFAULT_NAMESPACE_OPTIONS, presence: true } },
  });
});
afterAll(() => herald.close());

async function signIn(secret: string): Promise<{ status: number; cookie: string; body: unknown }> {
  const response = await fetch(`${herald.url}/dashboard/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secret }),
  });
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { status: response.status, cookie: setCookie.split(';')[0] ?? '', body: await response.json() };
}

describe('dashboard sign-in', () => {
  it('takes the admin password or the API key, and sets an HttpOnly SameSite=Strict cookie', async () => {
    for (const secret of [ADMIN_PASSWORD, TEST_API_KEY]) {
      const { status, cookie, body } = await signIn(secret);
      expect(status).toBe(200);
      expect(body).toMatchObject({ signedIn: true });
      const session = await fetch(`${herald.url}/dashboard/api/session`, { headers: { cookie } });
      expect(session.status).toBe(200);
    }
    const response = await fetch(`${herald.url}/dashboard/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret: TEST_API_KEY }),
    });
    expect(response.headers.get('set-cookie')).toMatch(
      /^herald_dashboard=\d+\.[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/,
    );
  });

  it('refuses a wrong secret, a forged cookie, and too many failures from one address', async () => {
    const wrong = await signIn('not-the-password');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({
      error: { code: 'HERALD_ERR_UNAUTHORIZED', message: 'wrong admin password or API key' },
    });
    const forged = `herald_dashboard=${Date.now() + 60_000}.AAAA`;
    const session = await fetch(`${herald.url}/dashboard/api/session`, { headers: { cookie: forged } });
    expect(session.status).toBe(401);
    let status = 401;
    for (let i = 0; i < 20 && status === 401; i++) status = (await signIn('guess')).status;
    expect(status).toBe(429);
    // Even the right secret waits now: a guesser cannot tell the difference.
    expect((await signIn(ADMIN_PASSWORD)).status).toBe(429);
  });
});

describe('dashboard errors', () => {
  it('answers bad sign-in bodies and unknown methods with the error body (found by the fuzzer)', async () => {
    const session = `${herald.url}/dashboard/api/session`;
    const invalid = await fetch(session, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"secret":',
    });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: { code: 'HERALD_ERR_INVALID_JSON' } });
    const form = await fetch(session, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'secret=x',
    });
    expect(form.status).toBe(400);
    expect(await form.json()).toMatchObject({ error: { code: 'HERALD_ERR_BAD_REQUEST' } });
    const put = await fetch(session, { method: 'PUT' });
    expect(put.status).toBe(404);
    expect(await put.json()).toMatchObject({ error: { code: 'HERALD_ERR_NOT_FOUND' } });
  });
});

describe('the signed-in dashboard', () => {
  let cookie: string;
  beforeAll(async () => {
    // A fresh server: the sign-in test above used up this address's failures.
    await herald.close();
    herald = await startTestHerald({
      adminPassword: ADMIN_PASSWORD,
      allowedOrigins: ['https://app.example'],
      namespaces: { room: { ...DEFAULT_NAMESPACE_OPTIONS, presence: true } },
    });
    cookie = (await signIn(ADMIN_PASSWORD)).cookie;
  });

  it('calls the server API with its cookie and header, not with the cookie alone', async () => {
    const info = await fetch(`${herald.url}/api/info`, { headers: { cookie, 'x-herald-dashboard': '1' } });
    expect(info.status).toBe(200);
    expect(((await info.json()) as { nodes: unknown[] }).nodes).toHaveLength(1);
    const cookieOnly = await fetch(`${herald.url}/api/info`, { headers: { cookie } });
    expect(cookieOnly.status).toBe(401);
    const signedOut = await fetch(`${herald.url}/api/info`, { headers: { 'x-herald-dashboard': '1' } });
    expect(signedOut.status).toBe(401);
  });

  it("connects without a token, watches Herald's stats and any channel, and stays out of presence", async () => {
    const dashboard = await herald.client({ token: null, headers: { cookie } });
    await dashboard.call('connect', {});
    const samples: Record<string, unknown>[] = [];
    dashboard.onMessage((message) => {
      const push = (message as { push?: { channel?: string; pub?: { data?: Record<string, unknown> } } })
        .push;
      if (push?.channel === '$herald:stats' && push.pub?.data !== undefined) samples.push(push.pub.data);
    });
    await dashboard.call('subscribe', { channel: '$herald:stats' });
    await waitFor(() => samples.length > 0, 3000, 'a stats sample');
    expect(samples[0]).toMatchObject({
      node: herald.node.id,
      name: 'test',
      connections: expect.any(Number),
      published: expect.any(Number),
      delivered: expect.any(Number),
      transports: { websocket: 1, sse: 0 },
    });

    await dashboard.call('subscribe', { channel: 'room:1' });
    const user = await herald.client();
    await user.call('subscribe', { channel: 'room:1' });
    expect(await user.call('presence_stats', { channel: 'room:1' })).toEqual({ clients: 1, users: 1 });
    expect(await dashboard.call('history', { channel: '$herald:stats', limit: 1 })).toMatchObject({
      publications: [{ data: { node: herald.node.id } }],
    });
    const publish = await dashboard.call('publish', { channel: 'room:1', data: 1 }).catch((e: unknown) => e);
    expect((publish as ProtocolError).code).toBe(ErrorCode.PERMISSION_DENIED);
    dashboard.close();
    user.close();
  });

  it("keeps $herald channels from everyone else, and from the API's publishers", async () => {
    const user = await herald.client();
    const error = await user.call('subscribe', { channel: '$herald:stats' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(ErrorCode.PERMISSION_DENIED);
    // A token-less connection with the cookie from another (allowed) site's page is not the dashboard.
    const foreign = await herald.client({ token: null, headers: { cookie }, origin: 'https://app.example' });
    const refused = await foreign.call('connect', {}).catch((e: unknown) => e);
    expect((refused as ProtocolError).code).toBe(ErrorCode.UNAUTHORIZED);
    // Nor one a sibling subdomain's page made (no Origin, but the browser says it is not same-origin).
    const sibling = await herald.client({ token: null, headers: { cookie, 'sec-fetch-site': 'same-site' } });
    const alsoRefused = await sibling.call('connect', {}).catch((e: unknown) => e);
    expect((alsoRefused as ProtocolError).code).toBe(ErrorCode.UNAUTHORIZED);
    const publish = await fetch(`${herald.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: '$herald:stats', data: {} }),
    });
    expect(publish.status).toBe(400);
    expect(await publish.json()).toMatchObject({ error: { code: 'HERALD_ERR_INVALID_CHANNEL' } });
    user.close();
  });

  it('mints demo tokens for the demo namespace only', async () => {
    const mint = (name: unknown, headers: Record<string, string>) =>
      fetch(`${herald.url}/demo/api/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name }),
      });
    expect((await mint('Ann', {})).status).toBe(401);
    expect((await mint('', { cookie, 'x-herald-dashboard': '1' })).status).toBe(400);
    const response = await mint(' Ann ', { cookie, 'x-herald-dashboard': '1' });
    expect(response.status).toBe(200);
    const { token, user } = (await response.json()) as { token: string; user: string };
    expect(user).toBe('Ann');
    const ann = await herald.client({ token });
    await expect(ann.call('subscribe', { channel: 'demo:lobby' })).resolves.toBeDefined();
    await expect(ann.call('publish', { channel: 'demo:lobby', data: { text: 'hi' } })).resolves.toBeDefined();
    const elsewhere = await ann.call('subscribe', { channel: 'room:1' }).catch((e: unknown) => e);
    expect((elsewhere as ProtocolError).code).toBe(ErrorCode.PERMISSION_DENIED);
    ann.close();
    // The demo namespace is the demo's: the app's own users (tokens without demo:*) stay out.
    const appUser = await herald.client();
    const denied = await appUser.call('subscribe', { channel: 'demo:lobby' }).catch((e: unknown) => e);
    expect((denied as ProtocolError).code).toBe(ErrorCode.PERMISSION_DENIED);
    appUser.close();
  });

  it("ends the dashboard's connection when its sign-in expires", async () => {
    // A session signed 12 hours minus a second ago, with the server's own keys.
    const sessions = new DashboardSessions({ apiKey: TEST_API_KEY, adminPassword: ADMIN_PASSWORD });
    const expiring = sessions.signIn(ADMIN_PASSWORD, 'test', Date.now() - 12 * 3_600_000 + 1000);
    if (!expiring.ok) throw new Error('sign-in failed');
    const dashboard = await herald.client({
      token: null,
      headers: { cookie: `herald_dashboard=${expiring.cookie}` },
    });
    await dashboard.call('connect', {});
    expect((await dashboard.closed).code).toBe(DisconnectCode.TOKEN_EXPIRED);
  });
});

describe('a dashboard that is off', () => {
  it('has no sign-in, and a session cookie opens nothing', async () => {
    const off = await startTestHerald({ dashboard: false });
    try {
      // A cookie that a dashboard with the same keys would accept.
      const signed = new DashboardSessions({ apiKey: TEST_API_KEY }).signIn(TEST_API_KEY, 'test');
      if (!signed.ok) throw new Error('sign-in failed');
      const cookie = `herald_dashboard=${signed.cookie}`;
      const api = await fetch(`${off.url}/api/info`, { headers: { cookie, 'x-herald-dashboard': '1' } });
      expect(api.status).toBe(401);
      const client = await off.client({ token: null, headers: { cookie } });
      const refused = await client.call('connect', {}).catch((e: unknown) => e);
      expect((refused as ProtocolError).code).toBe(ErrorCode.UNAUTHORIZED);
      const response = await fetch(`${off.url}/dashboard/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ secret: TEST_API_KEY }),
      });
      expect(response.status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
