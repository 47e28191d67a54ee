/**
 * Security cases for channel names, over real WebSocket, SSE and HTTP: patterns where a channel is
 * expected, traversal-like names, encoded dots, NUL and control characters, very long names, Unicode
 * look-alikes and Herald's reserved `$herald:` channels. A name is either refused (107 on the wire,
 * 400 from the API) or taken literally: Herald never decodes, normalises or folds it into another
 * channel's name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type PublicationFrame } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { TEST_API_KEY } from '../helpers/config.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { SseStream } from '../helpers/sse.ts';
import { errorOf, sleep } from './helpers.ts';

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald({
    namespaces: {
      chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true, presence: true },
      secret: { ...DEFAULT_NAMESPACE_OPTIONS, subscribe: 'listed' },
    },
  });
});
afterAll(() => herald.close());

/** The HTTP API's answer to publishing on `channel`. */
async function apiPublish(channel: string): Promise<{ status: number; code: string | undefined }> {
  const response = await fetch(`${herald.url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data: 'x' }),
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, code: body.error?.code };
}

/** Every command that names a channel, each answered with `code` for `channel`. */
async function expectRefusedEverywhere(client: ProtocolClient, channel: string, code: number) {
  const calls = [
    client.call('subscribe', { channel }),
    client.call('publish', { channel, data: 1 }),
    client.call('history', { channel }),
    client.call('presence', { channel }),
    client.call('presence_stats', { channel }),
  ];
  for (const call of calls) expect((await errorOf(call)).code, JSON.stringify(channel)).toBe(code);
}

/** Collects the publications `client` receives, by channel. */
function received(client: ProtocolClient): Map<string, PublicationFrame[]> {
  const byChannel = new Map<string, PublicationFrame[]>();
  client.onPublication((channel, publication) => {
    byChannel.set(channel, [...(byChannel.get(channel) ?? []), publication]);
  });
  return byChannel;
}

describe('patterns where a channel is expected', () => {
  it.each(['*', 'chat:*', 'chat:room-*', '*:lobby', 'chat:?', 'chat:[a-z]', 'chat:room{1,2}'])(
    'refuses %j on every command and in the API',
    async (channel) => {
      const client = await herald.client({ token: await herald.token({ channels: ['*'] }) });
      await expectRefusedEverywhere(client, channel, ErrorCode.INVALID_CHANNEL);
      expect(await apiPublish(channel)).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
      client.close();
    },
  );

  it('refuses a pattern over SSE, on the stream', async () => {
    const token = await herald.token();
    const stream = await SseStream.open(
      `${herald.url}/connection/sse?token=${token}&channel=${encodeURIComponent('chat:*')}`,
    );
    await waitFor(() => stream.messages().some((m) => m['id'] === 2), 3000, 'the subscribe reply');
    const reply = stream.messages().find((m) => m['id'] === 2);
    expect((reply?.['error'] as { code?: number } | undefined)?.code).toBe(ErrorCode.INVALID_CHANNEL);
    stream.close();
  });
});

describe('traversal-like names', () => {
  it("takes '..' and '/' literally: a claim for chat:public/* reaches no other channel", async () => {
    const client = await herald.client({ token: await herald.token({ channels: ['chat:public/*'] }) });
    const byChannel = received(client);
    await client.call('subscribe', { channel: 'chat:public/../secret' });
    expect((await errorOf(client.call('subscribe', { channel: 'chat:secret' }))).code).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    await herald.publish('chat:secret', 'for others');
    await herald.publish('chat:public/../secret', 'its own');
    await waitFor(() => byChannel.size > 0, 3000, 'a publication');
    await sleep(100);
    expect([...byChannel.keys()]).toEqual(['chat:public/../secret']);
    expect(byChannel.get('chat:public/../secret')?.map((p) => p.data)).toEqual(['its own']);
    const history = await client.call('history', { channel: 'chat:public/../secret' });
    expect(history.publications.map((p) => p.data)).toEqual(['its own']);
    client.close();
  });

  it('keeps a namespace to its exact name: ./secret and secret/. are other namespaces, not secret', async () => {
    const client = await herald.client();
    expect((await errorOf(client.call('subscribe', { channel: 'secret:plans' }))).code).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    const byChannel = received(client);
    for (const lookalike of ['./secret:plans', 'secret/.:plans', '../secret:plans']) {
      await client.call('subscribe', { channel: lookalike });
    }
    await herald.publish('secret:plans', 'classified');
    await sleep(200);
    expect(byChannel.size).toBe(0);
    client.close();
  });

  it.each(['chat:%2e%2e/secret', 'chat:%2E%2E%2Fsecret', 'chat:..%2fsecret', 'chat:..\\secret'])(
    'refuses the encoded or backslashed %j instead of decoding it',
    async (channel) => {
      const client = await herald.client();
      await expectRefusedEverywhere(client, channel, ErrorCode.INVALID_CHANNEL);
      expect(await apiPublish(channel)).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
      client.close();
    },
  );

  it('decodes a query string once only: %252e stays %2e, and is refused', async () => {
    const response = await fetch(`${herald.url}/api/history?channel=chat%3A%252e%252e%252fsecret`, {
      headers: { authorization: `apikey ${TEST_API_KEY}` },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'HERALD_ERR_INVALID_CHANNEL' } });
  });
});

describe('NUL, control characters and whitespace', () => {
  const names: [string, string][] = [
    ['NUL', 'chat:a\u0000b'],
    ['a trailing NUL', 'chat:a\u0000'],
    ['a newline', 'chat:a\nb'],
    ['CR LF', 'chat:a\r\nb'],
    ['a tab', 'chat:a\tb'],
    ['an ANSI escape', 'chat:\u001b[31ma'],
    ['DEL', 'chat:a\u007f'],
    ['NEL', 'chat:a\u0085'],
    ['a line separator', 'chat:a\u2028b'],
    ['a space', 'chat:a b'],
    ['a leading space', ' chat:a'],
    ['a lone surrogate', 'chat:a\ud800'],
  ];
  it.each(names)('refuses a channel with %s on every command and in the API', async (_what, channel) => {
    const client = await herald.client();
    await expectRefusedEverywhere(client, channel, ErrorCode.INVALID_CHANNEL);
    expect(await apiPublish(channel)).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
    client.close();
  });

  it('refuses a token whose channels claim holds control characters', async () => {
    const client = await ProtocolClient.open(herald.wsUrl);
    const token = await herald.token({ channels: ['chat:a\u0000*'] });
    expect((await errorOf(client.call('connect', { token }))).code).toBe(ErrorCode.UNAUTHORIZED);
  });

  it('refuses a NUL in a channel given to SSE, on the stream', async () => {
    const token = await herald.token();
    const stream = await SseStream.open(`${herald.url}/connection/sse?token=${token}&channel=chat%3Aa%00b`);
    await waitFor(() => stream.messages().some((m) => m['id'] === 2), 3000, 'the subscribe reply');
    const reply = stream.messages().find((m) => m['id'] === 2);
    expect((reply?.['error'] as { code?: number } | undefined)?.code).toBe(ErrorCode.INVALID_CHANNEL);
    stream.close();
  });
});

describe('very long names', () => {
  it('takes 255 characters and refuses 256, without echoing the name back', async () => {
    const client = await herald.client();
    await client.call('subscribe', { channel: `chat:${'a'.repeat(250)}` });
    const long = `chat:${'a'.repeat(251)}`;
    await expectRefusedEverywhere(client, long, ErrorCode.INVALID_CHANNEL);
    const huge = `chat:${'a'.repeat(60_000)}`;
    const error = await errorOf(client.call('subscribe', { channel: huge }));
    expect(error.code).toBe(ErrorCode.INVALID_CHANNEL);
    expect(error.message.length).toBeLessThan(200);
    expect(await apiPublish(long)).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
    expect(await apiPublish(huge)).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
    client.close();
  });
});

describe('Unicode look-alikes', () => {
  const lookalikes: [string, string][] = [
    ['a Cyrillic а', 'chat:\u0430lice'],
    ['a Greek ο', 'chat:b\u03bfb'],
    ['fullwidth letters', '\uff43\uff48\uff41\uff54:alice'],
    ['a Kelvin sign', 'chat:\u212aey'],
    ['a dotless ı', 'chat:al\u0131ce'],
    ['a combining accent', 'chat:ali\u0301ce'],
    ['a zero-width space', 'chat:al\u200bice'],
    ['a byte-order mark', 'chat:alice\ufeff'],
    ['a right-to-left override', 'chat:\u202ealice'],
    ['a fullwidth colon', 'chat\uff1aalice'],
    ['a division slash', 'chat:a\u2215b'],
  ];
  it.each(lookalikes)('refuses %s instead of folding it into the ASCII name', async (_what, channel) => {
    const client = await herald.client({ token: await herald.token({ channels: ['chat:*'] }) });
    await expectRefusedEverywhere(client, channel, ErrorCode.INVALID_CHANNEL);
    expect(await apiPublish(channel)).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
    client.close();
  });

  it('refuses a look-alike in a token claim, which would otherwise never match', async () => {
    const client = await ProtocolClient.open(herald.wsUrl);
    const token = await herald.token({ channels: ['chat:\u0430lice'] });
    expect((await errorOf(client.call('connect', { token }))).code).toBe(ErrorCode.UNAUTHORIZED);
  });

  it('keeps letter case: CHAT:Alice is another channel than chat:alice', async () => {
    const client = await herald.client({ token: await herald.token({ channels: ['chat:alice'] }) });
    expect((await errorOf(client.call('subscribe', { channel: 'chat:Alice' }))).code).toBe(
      ErrorCode.PERMISSION_DENIED,
    );
    const other = await herald.client();
    const byChannel = received(other);
    await other.call('subscribe', { channel: 'CHAT:Alice' });
    await herald.publish('chat:alice', 'private');
    await sleep(200);
    expect(byChannel.size).toBe(0);
    client.close();
    other.close();
  });
});

describe("Herald's reserved $herald: channels", () => {
  it('are closed to every client, whatever its token claims or names itself', async () => {
    const tokens = [
      await herald.token(),
      await herald.token({ channels: ['*'] }),
      await herald.token({ user: '$dashboard' }),
    ];
    for (const token of tokens) {
      const client = await herald.client({ token });
      for (const channel of ['$herald:stats', '$herald:other', '$herald']) {
        await expectRefusedEverywhere(client, channel, ErrorCode.PERMISSION_DENIED);
      }
      client.close();
    }
    // A claim cannot even name them.
    const claiming = await ProtocolClient.open(herald.wsUrl);
    const token = await herald.token({ channels: ['$herald:*'] });
    expect((await errorOf(claiming.call('connect', { token }))).code).toBe(ErrorCode.UNAUTHORIZED);
  });

  it('cannot be published to through the API', async () => {
    expect(await apiPublish('$herald:stats')).toEqual({ status: 400, code: 'HERALD_ERR_INVALID_CHANNEL' });
  });

  it.each(['$$herald:stats', '\uff04herald:stats', ' $herald:stats', 'chat:$herald', '$'])(
    'refuses the variant %j as an invalid name',
    async (channel) => {
      const client = await herald.client();
      await expectRefusedEverywhere(client, channel, ErrorCode.INVALID_CHANNEL);
      client.close();
    },
  );
});
