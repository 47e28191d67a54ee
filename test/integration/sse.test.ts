/**
 * The SSE transport over real HTTP: the simple form (token and channels in the URL), resuming with
 * Last-Event-ID without a gap or a duplicate, commands POSTed beside the stream, and every refusal
 * with its code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';
import { SseStream } from '../helpers/sse.ts';

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald({
    namespaces: { chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true } },
    allowedOrigins: ['https://app.example'],
    maxFrameBytes: 1024,
  });
});
afterAll(() => herald.close());

async function streamUrl(params: Record<string, string | string[]>): Promise<string> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) search.append(name, v);
  return `${herald.url}/connection/sse?${search}`;
}

const pushes = (stream: SseStream) =>
  stream
    .messages()
    .filter((m) => 'push' in m)
    .map((m) => (m['push'] as { pub: { data: unknown } }).pub.data);

describe('SSE transport', () => {
  it('streams the channels named in the URL, each event carrying the stream positions as its id', async () => {
    const token = await herald.token();
    const stream = await SseStream.open(await streamUrl({ token, channel: ['chat:a', 'chat:b'] }));
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await waitFor(() => stream.messages().length === 3, 3000, 'connect and subscribe replies');
    expect(stream.events[0]?.event).toBe('session');
    const [connect, subA, subB] = stream.messages();
    expect(connect).toMatchObject({ id: 1, result: { client: expect.any(String) } });
    expect(subA).toMatchObject({ id: 2, result: { recoverable: true, offset: 0 } });
    expect(subB).toMatchObject({ id: 3, result: { recoverable: true } });

    const a = await herald.publish('chat:a', { n: 1 });
    await herald.publish('chat:b', { n: 2 });
    await waitFor(() => pushes(stream).length === 2, 3000, 'two pushes');
    const id = JSON.parse(stream.lastEventId() ?? '{}') as Record<string, [number, string]>;
    expect(id['chat:a']).toEqual([1, a.epoch]);
    expect(id['chat:b']?.[0]).toBe(1);
    stream.close();
  });

  it('resumes from Last-Event-ID with every missed publication once, then the live stream', async () => {
    const token = await herald.token();
    const url = await streamUrl({ token, channel: 'chat:resume' });
    const first = await SseStream.open(url);
    await waitFor(() => first.messages().length === 2, 3000, 'subscribed');
    for (let n = 1; n <= 3; n++) await herald.publish('chat:resume', n);
    await waitFor(() => pushes(first).length === 3, 3000, 'three pushes');
    const lastId = first.lastEventId() ?? '';
    first.close();
    await first.done;
    for (let n = 4; n <= 6; n++) await herald.publish('chat:resume', n);

    const second = await SseStream.open(url, { 'last-event-id': lastId });
    await waitFor(() => second.messages().length >= 2, 3000, 'resubscribed');
    const reply = second.messages()[1] as {
      result: { recovered: boolean; publications: { data: number }[] };
    };
    expect(reply.result.recovered).toBe(true);
    expect(reply.result.publications.map((p) => p.data)).toEqual([4, 5, 6]);
    await herald.publish('chat:resume', 7);
    await waitFor(() => pushes(second).length === 1, 3000, 'the live publication');
    expect(pushes(second)).toEqual([7]);
    second.close();
  });

  it('takes commands POSTed with the session key and answers them on the stream', async () => {
    const stream = await SseStream.open(await streamUrl({ token: await herald.token() }));
    await waitFor(() => stream.events.length === 2, 3000, 'session and connect');
    const { client, key } = JSON.parse(stream.events[0]?.data ?? '{}') as { client: string; key: string };
    const post = (
      body: string,
      query = `client=${client}&key=${key}`,
      headers: Record<string, string> = {},
    ) =>
      fetch(`${herald.url}/connection/sse/commands?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', ...headers },
        body,
      });

    const accepted = await post(
      '{"id":2,"subscribe":{"channel":"chat:cmd"}}\n{"id":3,"publish":{"channel":"chat:cmd","data":"hi"}}',
    );
    expect(accepted.status).toBe(202);
    await waitFor(() => pushes(stream).length === 1, 3000, 'its own publication');
    expect(
      stream
        .messages()
        .filter((m) => 'id' in m)
        .map((m) => m['id']),
    ).toEqual([1, 2, 3]);
    expect(pushes(stream)).toEqual(['hi']);

    const wrongKey = await post('{"id":4,"ping":{}}', `client=${client}&key=AAAAAAAAAAAAAAAAAAAAAAAA`);
    expect(wrongKey.status).toBe(404);
    expect(await wrongKey.json()).toMatchObject({
      error: { code: 'HERALD_ERR_UNKNOWN_SESSION', wireCode: ErrorCode.UNKNOWN_SESSION },
    });
    const tooLarge = await post(`{"id":5,"publish":{"channel":"chat:cmd","data":"${'x'.repeat(2000)}"}}`);
    expect(tooLarge.status).toBe(413);
    const notText = await post('{}', undefined, { 'content-type': 'application/json' });
    expect(notText.status).toBe(400);
    stream.close();
  });

  it('answers a bad token on the stream, then ends it with a close event', async () => {
    const stream = await SseStream.open(await streamUrl({ token: 'not-a-jwt', channel: 'chat:x' }));
    await stream.done;
    expect(stream.messages()[0]).toMatchObject({ id: 1, error: { code: ErrorCode.UNAUTHORIZED } });
    const close = stream.events.find((event) => event.event === 'close');
    expect(JSON.parse(close?.data ?? '{}')).toEqual({
      code: DisconnectCode.UNAUTHORIZED,
      reason: 'unauthorized',
    });
  });

  it('refuses other origins, malformed positions and a malformed Authorization header', async () => {
    const token = await herald.token();
    const url = await streamUrl({ token, channel: 'chat:x' });
    const foreign = await fetch(url, { headers: { origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    const allowed = await SseStream.open(url, { origin: 'https://app.example' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    allowed.close();
    const badId = await fetch(url, { headers: { 'last-event-id': 'nonsense' } });
    expect(badId.status).toBe(400);
    expect(await badId.json()).toMatchObject({ error: { code: 'HERALD_ERR_BAD_REQUEST' } });
    const tooLong = await fetch(
      await streamUrl({ commands: `{"id":1,"connect":{"token":"${'x'.repeat(2000)}"}}` }),
    );
    expect(tooLong.status).toBe(413);
    const badAuth = await fetch(await streamUrl({ channel: 'chat:x' }), {
      headers: { authorization: 'Token x' },
    });
    expect(badAuth.status).toBe(401);
  });

  it('accepts the token in an Authorization header', async () => {
    const stream = await SseStream.open(await streamUrl({ channel: 'chat:h' }), {
      authorization: `Bearer ${await herald.token()}`,
    });
    await waitFor(() => stream.messages().length === 2, 3000, 'subscribed');
    expect(stream.messages()[1]).toMatchObject({ id: 2, result: { recoverable: true } });
    stream.close();
  });
});
