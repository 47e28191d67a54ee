/**
 * Floods, over real WebSockets: subscriptions past `maxSubscriptionsPerConnection` (111), commands
 * past `commandRate` (121), publishes past `publishRate` (122), a user's connections past
 * `maxConnectionsPerUser` (120, closed with 3008), connections that never send `connect` (3005 at the
 * connect timeout), and ping and pong floods. Each time the flooder is held to its limit, every
 * command it sent is answered, and other clients are served as if nothing happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { ProtocolClient, ProtocolError } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { errorOf, sleep } from './helpers.ts';

const COMMAND_RATE = 10;
const MAX_SUBSCRIPTIONS = 5;
/** The command bucket's size: twice the rate plus one resubscribe per subscription a connection may hold. */
const COMMAND_BURST = COMMAND_RATE * 2 + MAX_SUBSCRIPTIONS;
const CONNECT_TIMEOUT_MS = 400;

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald({
    maxSubscriptionsPerConnection: MAX_SUBSCRIPTIONS,
    commandRate: COMMAND_RATE,
    publishRate: 2,
    maxConnectionsPerUser: 3,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    namespaces: { chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true } },
  });
});
afterAll(() => herald.close());

/** The codes a batch of calls settled with: 0 for a result. */
async function codes(calls: Promise<unknown>[]): Promise<number[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((result) => {
    if (result.status === 'fulfilled') return 0;
    if (result.reason instanceof ProtocolError) return result.reason.code;
    throw result.reason;
  });
}

const count = (list: number[], code: number) => list.filter((item) => item === code).length;

/** A client of another user, to show that the flood does not reach it. */
async function bystander(user: string): Promise<ProtocolClient> {
  return herald.client({ token: await herald.token({ user }) });
}

/** Round trip of one ping, ms. */
async function pingMs(client: ProtocolClient): Promise<number> {
  const start = performance.now();
  await client.call('ping', {});
  return performance.now() - start;
}

describe('subscription flood', () => {
  it(`holds a connection to ${MAX_SUBSCRIPTIONS} subscriptions, answering the rest with 111`, async () => {
    const client = await herald.client({ token: await herald.token({ user: 'sub-flooder' }) });
    const results = await codes(
      Array.from({ length: 40 }, (_, i) => client.call('subscribe', { channel: `chat:flood-${i}` })),
    );
    expect(count(results, 0)).toBe(MAX_SUBSCRIPTIONS);
    expect(count(results, ErrorCode.TOO_MANY_SUBSCRIPTIONS)).toBeGreaterThan(0);
    expect(
      results.every((code) =>
        [0, ErrorCode.TOO_MANY_SUBSCRIPTIONS, ErrorCode.COMMAND_RATE_LIMITED].includes(code),
      ),
    ).toBe(true);
    const session = [...herald.node.hub.userClients('sub-flooder')][0];
    expect(session?.subscriptionCount).toBe(MAX_SUBSCRIPTIONS);
    // Still connected, and a freed slot can be used again once the rate allows.
    await sleep(1100);
    await client.call('unsubscribe', { channel: 'chat:flood-0' });
    await client.call('subscribe', { channel: 'chat:another' });
    expect((await errorOf(client.call('subscribe', { channel: 'chat:one-more' }))).code).toBe(
      ErrorCode.TOO_MANY_SUBSCRIPTIONS,
    );
    client.close();
  });
});

describe('command flood', () => {
  it('refuses commands past the rate with 121, answers every one, and recovers', async () => {
    const flooder = await herald.client({ token: await herald.token({ user: 'cmd-flooder' }) });
    const quiet = await bystander('quiet-1');
    const results = await codes(Array.from({ length: 100 }, () => flooder.call('ping', {})));
    expect(results).toHaveLength(100);
    // connect took one token; a few more may have dripped in meanwhile.
    expect(count(results, 0)).toBeGreaterThanOrEqual(COMMAND_BURST - 1);
    expect(count(results, 0)).toBeLessThan(COMMAND_BURST + 5);
    expect(count(results, ErrorCode.COMMAND_RATE_LIMITED)).toBe(100 - count(results, 0));
    await expect(quiet.call('ping', {})).resolves.toEqual({});
    // Refused commands did not run: a refused subscribe leaves no subscription.
    const refused = await errorOf(flooder.call('subscribe', { channel: 'chat:after-flood' }));
    expect(refused.code).toBe(ErrorCode.COMMAND_RATE_LIMITED);
    expect([...herald.node.hub.userClients('cmd-flooder')][0]?.subscriptionCount).toBe(0);
    await sleep(300);
    await expect(flooder.call('ping', {})).resolves.toEqual({});
    flooder.close();
    quiet.close();
  });
});

describe('ping flood', () => {
  it('rate-limits a connection sending thousands of pings while others are served on time', async () => {
    const flooder = await herald.client({ token: await herald.token({ user: 'ping-flooder' }) });
    const quiet = await bystander('quiet-2');
    const replies: Record<string, unknown>[] = [];
    flooder.onMessage((message) => {
      if ('id' in message) replies.push(message);
    });
    const frames = 40;
    const perFrame = 100;
    let id = 1000;
    for (let frame = 0; frame < frames; frame++) {
      flooder.sendRaw(Array.from({ length: perFrame }, () => `{"id":${id++},"ping":{}}`).join('\n'));
      if (frame % 10 === 9) await sleep(0); // let the server read: one flooder, not a kernel buffer test
    }
    let closedWith = 'open';
    void flooder.closed.then(({ code, reason }) => (closedWith = `closed ${code} ${reason}`));
    const quietRtt = await pingMs(quiet);
    await waitFor(() => replies.length === frames * perFrame, 10_000, 'every ping answered').catch(
      (err: unknown) => {
        // Seen once in a full CI run, not reproduced since: say what state the flooder was left in.
        throw new Error(`${String(err)}: ${replies.length} of ${frames * perFrame} replies, ${closedWith}`);
      },
    );
    const limited = replies.filter(
      (reply) => (reply['error'] as { code?: number } | undefined)?.code === ErrorCode.COMMAND_RATE_LIMITED,
    );
    expect(replies.length - limited.length).toBeLessThan(COMMAND_BURST + 20);
    expect(limited.length).toBeGreaterThan(frames * perFrame - COMMAND_BURST - 20);
    expect(quietRtt).toBeLessThan(1000);
    expect(flooder.ws.readyState).toBe(WebSocket.OPEN);
    expect(await pingMs(quiet)).toBeLessThan(1000);
    const health = await fetch(`${herald.url}/healthz`);
    expect(health.status).toBe(200);
    flooder.close();
    quiet.close();
  });

  it('rate-limits pings sent before connect, and closes the connection at the connect timeout', async () => {
    const client = await ProtocolClient.open(herald.wsUrl);
    const results = await codes(Array.from({ length: 60 }, () => client.call('ping', {})));
    expect(count(results, ErrorCode.COMMAND_RATE_LIMITED)).toBeGreaterThan(0);
    const keepAlive = setInterval(() => client.call('ping', {}).catch(() => undefined), 50);
    try {
      expect((await client.closed).code).toBe(DisconnectCode.CONNECT_TIMEOUT);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('takes a flood of pongs without replies and without closing anyone', async () => {
    const flooder = await herald.client({ token: await herald.token({ user: 'pong-flooder' }) });
    const quiet = await bystander('quiet-3');
    let answers = 0;
    flooder.onMessage(() => answers++);
    for (let frame = 0; frame < 20; frame++) flooder.sendRaw(Array(5000).fill('{"pong":{}}').join('\n'));
    await expect(flooder.call('ping', {})).resolves.toEqual({});
    expect(answers).toBe(1);
    expect(await pingMs(quiet)).toBeLessThan(1000);
    flooder.close();
    quiet.close();
  });
});

describe('publish flood', () => {
  it('refuses publishes past the publish rate with 122, and publishes none of them', async () => {
    const client = await herald.client({ token: await herald.token({ user: 'pub-flooder' }) });
    const results = await codes(
      Array.from({ length: 12 }, (_, i) => client.call('publish', { channel: 'chat:pub-flood', data: i })),
    );
    const published = count(results, 0);
    expect(published).toBeGreaterThanOrEqual(4);
    expect(published).toBeLessThan(7);
    expect(count(results, ErrorCode.PUBLISH_RATE_LIMITED)).toBe(12 - published);
    const history = await client.call('history', { channel: 'chat:pub-flood' });
    expect(history.publications).toHaveLength(published);
    client.close();
  });
});

describe('connection flood', () => {
  it('holds a user to maxConnectionsPerUser, closing the rest with 120/3008, and leaves others alone', async () => {
    const token = await herald.token({ user: 'conn-flooder' });
    const clients = await Promise.all(Array.from({ length: 12 }, () => ProtocolClient.open(herald.wsUrl)));
    const results = await codes(clients.map((client) => client.call('connect', { token })));
    expect(count(results, 0)).toBe(3);
    expect(count(results, ErrorCode.TOO_MANY_CONNECTIONS)).toBe(9);
    const refused = clients.filter((_, i) => results[i] !== 0);
    for (const client of refused) expect((await client.closed).code).toBe(DisconnectCode.CONNECTION_LIMIT);
    expect(herald.node.hub.userClientCount('conn-flooder')).toBe(3);
    const other = await bystander('quiet-4');
    await expect(other.call('ping', {})).resolves.toEqual({});
    for (const client of clients) client.close();
    other.close();
  });

  it('closes connections that never send connect at the connect timeout (3005), serving others meanwhile', async () => {
    const opened = Date.now();
    const silent = await Promise.all(Array.from({ length: 100 }, () => ProtocolClient.open(herald.wsUrl)));
    const quiet = await bystander('quiet-5');
    expect(await pingMs(quiet)).toBeLessThan(1000);
    const closes = await Promise.all(silent.map((client) => client.closed));
    expect(closes.every((close) => close.code === DisconnectCode.CONNECT_TIMEOUT)).toBe(true);
    // At the connect timeout, give or take a heartbeat tick and a loaded machine.
    expect(Date.now() - opened).toBeLessThan(CONNECT_TIMEOUT_MS + 2000);
    expect(quiet.ws.readyState).toBe(WebSocket.OPEN);
    quiet.close();
  });
});
