/**
 * Channel permissions per namespace over real WebSocket connections: who may subscribe (any client,
 * only clients whose token lists the channel, only with a channel token), who may read history and
 * publish, and every refusal with its code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS, type NamespaceOptions } from '../../src/core/namespace.ts';
import { ProtocolError } from '../../src/cli/protocol-client.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

const namespace = (options: Partial<NamespaceOptions>): NamespaceOptions => ({
  ...DEFAULT_NAMESPACE_OPTIONS,
  ...options,
});

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald({
    namespaces: {
      open: namespace({ clientPublish: true }),
      listed: namespace({ subscribe: 'listed' }),
      priv: namespace({ subscribe: 'private', clientPublish: true }),
      sealed: namespace({ clientHistory: false }),
      lobby: namespace({ anonymousSubscribe: true }),
      inbox: namespace({ personal: true }),
    },
  });
});
afterAll(() => herald.close());

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  throw new Error('expected an error reply');
}

describe('subscribe: "any" (the default)', () => {
  it("lets any authenticated client in, narrowed by its token's channels claim", async () => {
    const plain = await herald.client();
    await expect(plain.call('subscribe', { channel: 'open:a' })).resolves.toMatchObject({
      recoverable: true,
    });
    const narrowed = await herald.client({ token: await herald.token({ channels: ['open:b*'] }) });
    await expect(narrowed.call('subscribe', { channel: 'open:b1' })).resolves.toBeDefined();
    expect(await codeOf(narrowed.call('subscribe', { channel: 'open:a' }))).toBe(ErrorCode.PERMISSION_DENIED);
    plain.close();
    narrowed.close();
  });
});

describe('subscribe: "listed"', () => {
  it("admits only clients whose token's channels claim lists the channel", async () => {
    const unlisted = await herald.client();
    expect(await codeOf(unlisted.call('subscribe', { channel: 'listed:x' }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    const listed = await herald.client({ token: await herald.token({ channels: ['listed:*'] }) });
    await expect(listed.call('subscribe', { channel: 'listed:x' })).resolves.toBeDefined();
    unlisted.close();
    listed.close();
  });
});

describe('subscribe: "private"', () => {
  it('admits a client with a channel token for its user and the channel', async () => {
    const client = await herald.client();
    const token = await herald.token({ channel: 'priv:room-1' });
    await expect(client.call('subscribe', { channel: 'priv:room-1', token })).resolves.toMatchObject({
      recoverable: true,
    });
    await expect(client.call('publish', { channel: 'priv:room-1', data: 'hi' })).resolves.toBeDefined();
    await expect(client.call('history', { channel: 'priv:room-1' })).resolves.toMatchObject({
      publications: [{ data: 'hi' }],
    });
    client.close();
  });

  it('refuses a missing, foreign, expired or forged channel token, each with its code', async () => {
    const client = await herald.client();
    const subscribe = (token?: string) =>
      codeOf(client.call('subscribe', { channel: 'priv:room-2', ...(token === undefined ? {} : { token }) }));
    expect(await subscribe()).toBe(ErrorCode.PERMISSION_DENIED);
    expect(await subscribe(await herald.token({ user: 'mallory', channel: 'priv:room-2' }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    expect(await subscribe(await herald.token({ channel: 'priv:room-3' }))).toBe(ErrorCode.PERMISSION_DENIED);
    expect(await subscribe(await herald.token({ channel: 'priv:room-2', ttlSeconds: -60 }))).toBe(
      ErrorCode.TOKEN_EXPIRED,
    );
    expect(await subscribe('not-a-jwt')).toBe(ErrorCode.UNAUTHORIZED);
    // A connection token is not a channel token.
    expect(await subscribe(await herald.token())).toBe(ErrorCode.UNAUTHORIZED);
    // Without a subscription, neither history nor publishing.
    expect(await codeOf(client.call('history', { channel: 'priv:room-2' }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    expect(await codeOf(client.call('publish', { channel: 'priv:room-2', data: 1 }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    client.close();
  });

  it("keeps a token's channels claim: a channel token does not widen it", async () => {
    const narrowed = await herald.client({ token: await herald.token({ channels: ['priv:mine*'] }) });
    const token = await herald.token({ channel: 'priv:elsewhere' });
    expect(await codeOf(narrowed.call('subscribe', { channel: 'priv:elsewhere', token }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    const own = await herald.token({ channel: 'priv:mine-1' });
    await expect(narrowed.call('subscribe', { channel: 'priv:mine-1', token: own })).resolves.toBeDefined();
    narrowed.close();
  });

  it('refuses anonymous clients its history with the reason', async () => {
    const anonymous = await herald.client({ token: null });
    await anonymous.call('connect', {});
    const error = await anonymous.call('history', { channel: 'priv:room-1' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).message).toBe(
      'priv:room-1 is private: subscribe with a channel token before reading its history',
    );
    anonymous.close();
  });

  it('refuses a channel token presented to connect', async () => {
    const client = await herald.client({ token: null });
    const token = await herald.token({ channel: 'priv:room-1' });
    expect(await codeOf(client.call('connect', { token }))).toBe(ErrorCode.UNAUTHORIZED);
  });
});

describe('personal: true', () => {
  it("subscribes a client to its own channel and refuses another user's", async () => {
    const ann = await herald.client({ token: null });
    const subscribed = new Set<string>();
    ann.onMessage((message) => {
      const push = (message as { push?: { channel?: string; subscribe?: unknown } }).push;
      if (push?.subscribe !== undefined && push.channel !== undefined) subscribed.add(push.channel);
    });
    await ann.call('connect', { token: await herald.token({ user: 'ann' }) });
    await waitFor(() => subscribed.has('inbox:ann'), 3000, 'the personal channel');
    const error = await ann.call('subscribe', { channel: 'inbox:bob' }).catch((err: unknown) => err);
    expect((error as ProtocolError).code).toBe(ErrorCode.PERMISSION_DENIED);
    expect((error as ProtocolError).message).toBe("inbox:bob is another user's personal channel");
    expect(await codeOf(ann.call('history', { channel: 'inbox:bob' }))).toBe(ErrorCode.PERMISSION_DENIED);
    ann.close();
  });
});

describe('clientHistory: false', () => {
  it('refuses history to clients but still recovers their subscriptions', async () => {
    const first = await herald.publish('sealed:news', 1);
    await herald.publish('sealed:news', 2);
    const client = await herald.client();
    expect(await codeOf(client.call('history', { channel: 'sealed:news' }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    const since = { offset: first.offset ?? 0, epoch: first.epoch ?? '' };
    await expect(client.call('subscribe', { channel: 'sealed:news', since })).resolves.toMatchObject({
      recovered: true,
      publications: [{ data: 2 }],
    });
    client.close();
  });
});

describe('anonymous clients', () => {
  it('subscribe only where anonymousSubscribe allows, and never publish', async () => {
    const client = await herald.client({ token: null });
    await client.call('connect', {});
    await expect(client.call('subscribe', { channel: 'lobby:hall' })).resolves.toBeDefined();
    expect(await codeOf(client.call('subscribe', { channel: 'open:a' }))).toBe(ErrorCode.PERMISSION_DENIED);
    expect(await codeOf(client.call('publish', { channel: 'open:a', data: 1 }))).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    client.close();
  });
});

describe('limits', () => {
  let limited: TestHerald;
  beforeAll(async () => {
    limited = await startTestHerald({
      namespaces: { chat: namespace({ clientPublish: true }) },
      maxConnectionsPerUser: 2,
      maxSubscriptionsPerConnection: 2,
      commandRate: 5,
      publishRate: 1,
    });
  });
  afterAll(() => limited.close());

  it('refuses commands past the rate with 121, without affecting other connections', async () => {
    const [flooding, quiet] = [
      await limited.client(),
      await limited.client({ token: await limited.token({ user: 'bob' }) }),
    ];
    // The burst is 2 × 5 + 2 (one resubscribe per subscription a connection may hold); connect took
    // one: 11 pings pass, the 12th and 13th are refused.
    const results = await Promise.allSettled(Array.from({ length: 13 }, () => flooding.call('ping', {})));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 0 : (r.reason as ProtocolError).code));
    expect(codes.filter((code) => code === 0)).toHaveLength(11);
    expect(codes.slice(11)).toEqual([ErrorCode.COMMAND_RATE_LIMITED, ErrorCode.COMMAND_RATE_LIMITED]);
    await expect(quiet.call('ping', {})).resolves.toEqual({});
    flooding.close();
    quiet.close();
  });

  it('refuses publishes past the publish rate with 122', async () => {
    const client = await limited.client({ token: await limited.token({ user: 'carol' }) });
    await client.call('publish', { channel: 'chat:a', data: 1 });
    await client.call('publish', { channel: 'chat:a', data: 2 });
    expect(await codeOf(client.call('publish', { channel: 'chat:a', data: 3 }))).toBe(
      ErrorCode.PUBLISH_RATE_LIMITED,
    );
    client.close();
  });

  it("refuses a user's connection past the limit with 120 and closes it with 3008", async () => {
    const token = await limited.token({ user: 'dave' });
    const first = await limited.client({ token });
    const second = await limited.client({ token });
    const third = await limited.client({ token: null });
    expect(await codeOf(third.call('connect', { token }))).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    expect((await third.closed).code).toBe(DisconnectCode.CONNECTION_LIMIT);
    const other = await limited.client({ token: await limited.token({ user: 'erin' }) });
    await expect(other.call('ping', {})).resolves.toEqual({});
    first.close();
    await first.closed;
    await waitFor(() => limited.node.hub.userClientCount('dave') === 1, 3000, 'the first connection to go');
    const again = await limited.client({ token });
    await expect(again.call('ping', {})).resolves.toEqual({});
    for (const client of [second, other, again]) client.close();
  });
});
