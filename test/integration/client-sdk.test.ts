/**
 * The client SDK against real Herald servers in Node.js (with `ws` as its WebSocket): connect,
 * subscribe, publish, history, token refresh, reconnect and recovery across a server restart,
 * an unrecoverable gap, and a bad token.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { EventSource } from 'eventsource';
import {
  ClientErrorCode,
  DisconnectCode,
  ErrorCode,
  Herald,
  ServerError,
  StateError,
  UnsubscribeCode,
  type ClientState,
  type HeraldOptions,
  type Publication,
} from '../../packages/client/src/index.ts';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import type { HeraldConfig } from '../../src/config/config.ts';
import { mintToken } from '../../src/auth/tokens.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { TEST_TOKEN_SECRET } from '../helpers/config.ts';

const NAMESPACES: HeraldConfig['namespaces'] = {
  chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true },
  dm: { ...DEFAULT_NAMESPACE_OPTIONS, subscribe: 'private' },
  user: { ...DEFAULT_NAMESPACE_OPTIONS, personal: true },
  room: { ...DEFAULT_NAMESPACE_OPTIONS, presence: true, joinLeave: true },
};

const clients: Herald[] = [];
function newClient(url: string, options: HeraldOptions = {}): Herald {
  const client = new Herald(url, {
    websocket: WebSocket,
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
    timeout: 3000,
    ...options,
  });
  clients.push(client);
  return client;
}
const token = (ttlSeconds?: number) =>
  mintToken(TEST_TOKEN_SECRET, { user: 'alice', ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

/** Collects a subscription's publications' data. */
function collect<T>(subscription: {
  on(event: 'publication', listener: (p: Publication<T>) => void): unknown;
}) {
  const received: Publication<T>[] = [];
  subscription.on('publication', (publication) => received.push(publication));
  return received;
}

describe('client SDK on the memory engine', () => {
  let herald: TestHerald;
  beforeAll(async () => {
    herald = await startTestHerald({ namespaces: NAMESPACES });
  });
  afterAll(() => herald.close());

  it('connects, subscribes, receives, publishes and reads history, with its state machines in order', async () => {
    const client = newClient(herald.wsUrl, { getToken: () => token() });
    const states: string[] = [];
    client.on('state', ({ oldState, newState }) => states.push(`${oldState}>${newState}`));
    const subscription = client.newSubscription<{ text: string }>('chat:sdk');
    const subscriptionStates: string[] = [];
    subscription.on('state', ({ newState }) => subscriptionStates.push(newState));
    const received = collect(subscription);
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    expect(states).toEqual(['disconnected>connecting', 'connecting>connected']);
    expect(subscriptionStates).toEqual(['subscribing', 'subscribed']);
    expect(client.clientId).toMatch(/^[0-9a-f-]{36}$/);

    await herald.publish('chat:sdk', { text: 'from the API' });
    const published = await subscription.publish({ text: 'from the SDK' });
    expect(published.offset).toBe(2);
    await waitFor(() => received.length === 2, 3000, 'two publications');
    expect(received.map((p) => p.data.text)).toEqual(['from the API', 'from the SDK']);
    expect(received[1]?.info?.user).toBe('alice');
    expect(subscription.position).toEqual({ offset: 2, epoch: received[0]?.epoch });

    const history = await client.history('chat:sdk', { limit: 1, reverse: true });
    expect(history.publications.map((p) => p.data)).toEqual([{ text: 'from the SDK' }]);

    subscription.unsubscribe();
    expect(subscription.state).toBe('unsubscribed');
    await herald.publish('chat:sdk', { text: 'after unsubscribe' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toHaveLength(2);
  });

  it('takes a resubscribe in the same tick as an unsubscribe as a fresh subscription', async () => {
    const client = newClient(herald.wsUrl, { getToken: () => token() });
    const subscription = client.newSubscription<number>('chat:again');
    const received = collect(subscription);
    const subscribed: unknown[] = [];
    subscription.on('subscribed', (context) => subscribed.push(context));
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    subscription.unsubscribe();
    subscription.subscribe();
    await subscription.ready();
    await herald.publish('chat:again', 1);
    await herald.publish('chat:again', 2);
    await waitFor(() => received.length === 2, 3000, 'two publications');
    expect(received.map((p) => p.data)).toEqual([1, 2]);
    expect(subscribed).toHaveLength(2);
    expect(client.state).toBe('connected');
  });

  it('subscribes to a private channel with a channel token from getToken, and reports a refusal', async () => {
    const client = newClient(herald.wsUrl, { getToken: () => token() });
    const asked: string[] = [];
    const allowed = client.newSubscription<string>('dm:alice-bob', {
      getToken: ({ channel }) => {
        asked.push(channel);
        return mintToken(TEST_TOKEN_SECRET, { user: 'alice', channel });
      },
    });
    const received = collect(allowed);
    allowed.subscribe();
    const refused = client.newSubscription('dm:carol-dave');
    const ended = new Promise<{ code: number }>((resolve) => refused.on('unsubscribed', resolve));
    refused.subscribe();
    client.connect();
    await allowed.ready();
    expect(asked).toEqual(['dm:alice-bob']);
    await herald.publish('dm:alice-bob', 'psst');
    await waitFor(() => received.length === 1, 3000, 'the private publication');
    expect((await ended).code).toBe(ErrorCode.PERMISSION_DENIED);
  });

  it("reports the server's subscriptions on the client: the personal channel, and those made through the API", async () => {
    const client = newClient(herald.wsUrl, { getToken: () => token() });
    const subscribed: string[] = [];
    const received: unknown[] = [];
    const unsubscribed: { channel: string; code: number }[] = [];
    client.on('subscribed', ({ channel }) => subscribed.push(channel));
    client.on('publication', ({ channel, data }) => received.push([channel, data]));
    client.on('unsubscribed', ({ channel, code }) => unsubscribed.push({ channel, code }));
    client.connect();
    await waitFor(() => subscribed.length === 1, 3000, 'the personal channel');
    expect(subscribed).toEqual(['user:alice']);
    await herald.publish('user:alice', 'for alice');
    const api = (path: string, body: unknown) =>
      fetch(`${herald.url}/api${path}`, {
        method: 'POST',
        headers: { authorization: `apikey ${herald.config.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await api('/subscribe', { user: 'alice', channel: 'dm:team' });
    await waitFor(() => subscribed.length === 2, 3000, 'the server-side subscription');
    await herald.publish('dm:team', 'for the team');
    await waitFor(() => received.length === 2, 3000, 'two publications');
    expect(received).toEqual([
      ['user:alice', 'for alice'],
      ['dm:team', 'for the team'],
    ]);
    await api('/unsubscribe', { user: 'alice', channel: 'dm:team' });
    await waitFor(() => unsubscribed.length === 1, 3000, 'the unsubscribe');
    expect(unsubscribed).toEqual([{ channel: 'dm:team', code: UnsubscribeCode.SERVER }]);
  });

  it('reads presence and its counts', async () => {
    const clients = [
      newClient(herald.wsUrl, { getToken: () => token() }),
      newClient(herald.wsUrl, {
        getToken: () => mintToken(TEST_TOKEN_SECRET, { user: 'bob', info: { name: 'Bob' } }),
      }),
    ];
    const subscriptions = clients.map((client) => client.newSubscription('room:sdk'));
    for (const [i, client] of clients.entries()) {
      subscriptions[i]?.subscribe();
      client.connect();
    }
    await Promise.all(subscriptions.map((subscription) => subscription.ready()));
    const first = subscriptions[0];
    await expect(first?.presenceStats()).resolves.toEqual({ clients: 2, users: 2 });
    const page = await clients[0]?.presence('room:sdk');
    expect(page?.clients.map((entry) => entry.user).sort()).toEqual(['alice', 'bob']);
    expect(page?.clients.find((entry) => entry.user === 'bob')?.info).toEqual({ name: 'Bob' });
    const disabled = await clients[0]?.presenceStats('chat:none').catch((err: unknown) => err);
    expect(disabled).toMatchObject({ code: ErrorCode.PRESENCE_DISABLED });
  });

  it('tells a subscription when other clients join and leave', async () => {
    const watcher = newClient(herald.wsUrl, { getToken: () => token() });
    const watching = watcher.newSubscription('room:events');
    const events: string[] = [];
    watching.on('join', ({ user }) => events.push(`join ${user}`));
    watching.on('leave', ({ user }) => events.push(`leave ${user}`));
    watching.subscribe();
    watcher.connect();
    await watching.ready();
    const visitor = newClient(herald.wsUrl, {
      getToken: () => mintToken(TEST_TOKEN_SECRET, { user: 'vic' }),
    });
    const visit = visitor.newSubscription('room:events');
    visit.subscribe();
    visitor.connect();
    await visit.ready();
    visit.unsubscribe();
    await waitFor(() => events.length === 2, 3000, 'join and leave');
    expect(events).toEqual(['join vic', 'leave vic']);
  });

  it('rejects calls with Error subclasses carrying Herald codes', async () => {
    const client = newClient(herald.wsUrl, { getToken: () => token() });
    await expect(client.publish('chat:x', 1)).rejects.toBeInstanceOf(StateError);
    client.connect();
    const denied = await client.publish('news:x', 1).catch((err: unknown) => err);
    expect(denied).toBeInstanceOf(ServerError);
    expect(denied).toMatchObject({ code: ErrorCode.PERMISSION_DENIED, name: 'ServerError' });
    const invalid = client.newSubscription('bad channel!');
    const errors: number[] = [];
    invalid.on('error', ({ error }) => errors.push(error.code));
    const ended = new Promise((resolve) => invalid.on('unsubscribed', resolve));
    invalid.subscribe();
    expect(await ended).toMatchObject({ code: ErrorCode.INVALID_CHANNEL });
    expect(errors).toEqual([ErrorCode.INVALID_CHANNEL]);
    expect(() => client.newSubscription('bad channel!')).toThrow(StateError);
  });

  it('reports a bad token and stops instead of reconnecting', async () => {
    const client = newClient(herald.wsUrl, { token: 'not-a-jwt' });
    const errors: number[] = [];
    client.on('error', ({ error }) => errors.push(error.code));
    const disconnected = new Promise<{ code: number }>((resolve) => client.on('disconnected', resolve));
    client.connect();
    expect((await disconnected).code).toBe(DisconnectCode.UNAUTHORIZED);
    expect(errors).toEqual([ErrorCode.UNAUTHORIZED]);
    expect(client.state).toBe<ClientState>('disconnected');
  });

  it('retries when getToken fails, reporting each failure, and connects once it works', async () => {
    let calls = 0;
    const client = newClient(herald.wsUrl, {
      getToken: async () => {
        calls += 1;
        if (calls <= 2) throw new Error('auth service down');
        return token();
      },
    });
    const errors: { code: number; during: string }[] = [];
    client.on('error', ({ error, during }) => errors.push({ code: error.code, during }));
    client.connect();
    await client.ready();
    expect(errors).toEqual([
      { code: ClientErrorCode.TOKEN_UNAVAILABLE, during: 'connect' },
      { code: ClientErrorCode.TOKEN_UNAVAILABLE, during: 'connect' },
    ]);
  });

  it('stops when its fixed token has expired, since reconnecting could not help', async () => {
    const client = newClient(herald.wsUrl, { token: await token(-60) });
    const disconnected = new Promise<{ code: number }>((resolve) => client.on('disconnected', resolve));
    client.connect();
    expect((await disconnected).code).toBe(DisconnectCode.TOKEN_EXPIRED);
  });

  it('refreshes an expiring token over the live connection', async () => {
    let issued = 0;
    const client = newClient(herald.wsUrl, {
      getToken: () => {
        issued += 1;
        return token(2);
      },
    });
    let connects = 0;
    client.on('connected', () => (connects += 1));
    client.connect();
    await client.ready();
    // The first token expires after 2 s and the server tolerates 5 s of clock skew: at 8 s the
    // connection is alive only if refreshes replaced it.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect(client.state).toBe('connected');
    expect(connects).toBe(1);
    expect(issued).toBeGreaterThanOrEqual(4);
  }, 15_000);

  it('tells the app when a reconnect cannot recover (the memory engine lost its history)', async () => {
    const server = await startTestHerald({ namespaces: NAMESPACES });
    const port = Number(new URL(server.url).port);
    const client = newClient(server.wsUrl, { getToken: () => token() });
    const subscription = client.newSubscription('chat:lost');
    const subscribed: { wasRecovering: boolean; recovered: boolean }[] = [];
    subscription.on('subscribed', (context) => subscribed.push(context));
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    await server.publish('chat:lost', 1);
    await waitFor(() => subscription.position?.offset === 1, 3000, 'the first publication');
    await server.close();
    const restarted = await startTestHerald({ namespaces: NAMESPACES, port });
    try {
      await waitFor(() => subscribed.length === 2, 5000, 'the resubscribe');
      expect(subscribed[1]).toMatchObject({ wasRecovering: true, recovered: false });
      expect(subscription.position?.offset).toBe(0);
    } finally {
      client.disconnect();
      await restarted.close();
    }
  });
});

describe('client SDK on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  it('recovers every publication missed while its server restarted: no gap, no duplicate', async () => {
    const config = { namespaces: NAMESPACES, redisUrl: redis.url, redisPrefix: uniquePrefix() };
    const first = await startTestHerald(config);
    const other = await startTestHerald(config);
    const port = Number(new URL(first.url).port);
    const client = newClient(first.wsUrl, { getToken: () => token() });
    const subscription = client.newSubscription<number>('chat:restart');
    const received = collect(subscription);
    const reasons: number[] = [];
    subscription.on('subscribing', ({ code }) => reasons.push(code));
    const subscribed: { wasRecovering: boolean; recovered: boolean }[] = [];
    subscription.on('subscribed', (context) => subscribed.push(context));
    const personal: { wasRecovering: boolean; recovered: boolean }[] = [];
    const personalReceived: unknown[] = [];
    client.on('subscribed', ({ wasRecovering, recovered }) => personal.push({ wasRecovering, recovered }));
    client.on('publication', ({ data }) => personalReceived.push(data));
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    await waitFor(() => personal.length === 1, 3000, 'the personal channel');
    await first.publish('user:alice', 'before');
    await waitFor(() => personalReceived.length === 1, 3000, 'the personal publication');
    let next = 1;
    const publish = async (count: number, through: TestHerald) => {
      for (const end = next + count; next < end; next++) await through.publish('chat:restart', next);
    };
    try {
      await publish(20, first);
      await waitFor(() => received.length === 20, 3000, '20 publications');
      await first.close();
      await publish(30, other); // while the client is away
      await other.publish('user:alice', 'during');
      const restarted = await startTestHerald({ ...config, port });
      try {
        await waitFor(() => subscribed.length === 2 && personal.length === 2, 5000, 'the resubscribes');
        await publish(10, restarted);
        await waitFor(() => received.length === 60, 5000, '60 publications');
        expect(received.map((p) => p.data)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        expect(received.map((p) => p.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        expect(subscribed[1]).toMatchObject({ wasRecovering: true, recovered: true });
        expect(reasons).toEqual([0, DisconnectCode.SHUTDOWN]);
        expect(personal).toEqual([
          { wasRecovering: false, recovered: false },
          { wasRecovering: true, recovered: true },
        ]);
        expect(personalReceived).toEqual(['before', 'during']);
      } finally {
        client.disconnect();
        await restarted.close();
      }
    } finally {
      await other.close();
    }
  });
});

describe('client SDK over SSE', () => {
  let herald: TestHerald;
  beforeAll(async () => {
    herald = await startTestHerald({ namespaces: NAMESPACES });
  });
  afterAll(() => herald.close());

  it('offers the same API over SSE: subscribe, receive, publish, history, unsubscribe', async () => {
    const client = newClient(herald.wsUrl, {
      getToken: () => token(),
      transports: ['sse'],
      eventsource: EventSource,
    });
    const transports: string[] = [];
    client.on('connected', ({ transport }) => transports.push(transport));
    const subscription = client.newSubscription<string>('chat:sse');
    const received = collect(subscription);
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    expect(transports).toEqual(['sse']);
    await herald.publish('chat:sse', 'from the API');
    await expect(subscription.publish('from the SDK')).resolves.toMatchObject({ offset: 2 });
    await waitFor(() => received.length === 2, 3000, 'two publications');
    expect(received.map((p) => p.data)).toEqual(['from the API', 'from the SDK']);
    const history = await subscription.history({ limit: 10 });
    expect(history.publications).toHaveLength(2);
    const late = client.newSubscription<string>('chat:sse-late');
    const lateReceived = collect(late);
    late.subscribe();
    await late.ready();
    await herald.publish('chat:sse-late', 'late');
    await waitFor(() => lateReceived.length === 1, 3000, 'a publication on a channel added later');
    subscription.unsubscribe();
    await herald.publish('chat:sse', 'after unsubscribe');
    await herald.publish('chat:sse-late', 'still here');
    await waitFor(() => lateReceived.length === 2, 3000, 'the second late publication');
    expect(received).toHaveLength(2);
  });

  it('falls back to SSE when WebSocket cannot connect', async () => {
    const client = newClient('ws://127.0.0.1:1/connection/websocket', {
      getToken: () => token(),
      sseUrl: `${herald.url}/connection/sse`,
      eventsource: EventSource,
    });
    const transports: string[] = [];
    client.on('connected', ({ transport }) => transports.push(transport));
    const subscription = client.newSubscription<number>('chat:fallback');
    const received = collect(subscription);
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    await herald.publish('chat:fallback', 1);
    await waitFor(() => received.length === 1, 3000, 'a publication');
    expect(transports).toEqual(['sse']);
  });

  it('recovers over SSE after its server restarts', async () => {
    const server = await startTestHerald({ namespaces: NAMESPACES });
    const port = Number(new URL(server.url).port);
    const client = newClient(server.wsUrl, {
      getToken: () => token(),
      transports: ['sse'],
      eventsource: EventSource,
    });
    const subscription = client.newSubscription<number>('chat:sse-restart');
    const subscribed: { recovered: boolean; wasRecovering: boolean }[] = [];
    subscription.on('subscribed', (context) => subscribed.push(context));
    subscription.subscribe();
    client.connect();
    await subscription.ready();
    await server.close();
    const restarted = await startTestHerald({ namespaces: NAMESPACES, port });
    try {
      await waitFor(() => subscribed.length === 2, 5000, 'the resubscribe');
      expect(client.state).toBe('connected');
      // The memory engine started a new history: the SDK says so instead of pretending.
      expect(subscribed[1]).toMatchObject({ wasRecovering: true, recovered: false });
    } finally {
      client.disconnect();
      await restarted.close();
    }
  });
});

describe('client SDK without a server', () => {
  it('keeps retrying with backoff while nothing listens, and stops on disconnect()', async () => {
    const client = newClient('ws://127.0.0.1:1/connection/websocket', { token: 'x' });
    let failedAttempts = 0;
    client.on('error', () => (failedAttempts += 1));
    client.connect();
    const ready = client.ready(300).catch((err: unknown) => err);
    expect(await ready).toMatchObject({ code: ClientErrorCode.TIMEOUT });
    expect(client.state).toBe('connecting');
    client.disconnect();
    expect(failedAttempts).toBe(0); // refused connections are retried quietly
    expect(client.state).toBe('disconnected');
  });
});
