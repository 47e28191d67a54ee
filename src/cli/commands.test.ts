/**
 * The CLI commands run in-process with a fake outside world: what they print, their exit codes, and
 * what they send. End-to-end runs against a real server live in test/e2e.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PublicationFrame, SubscribeRequest, SubscribeResult } from '@herald/protocol';
import { TokenVerifier } from '../auth/tokens.ts';
import type { CliIo } from './commands/io.ts';
import { runCli } from './commands/program.ts';
import type { OpenClient, SubscriptionClient } from './commands/subscribe.ts';

const SECRET = 's'.repeat(32);
const API_KEY = 'k'.repeat(24);

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'herald-cli-'));
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

type FetchMock = (url: string, init: RequestInit) => Promise<Response>;

function fakeIo(options: { env?: NodeJS.ProcessEnv; fetch?: FetchMock } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const handlers = new Set<(signal: NodeJS.Signals) => void>();
  const fetch = vi.fn<FetchMock>(
    options.fetch ?? (() => Promise.reject(new Error('no network in this test'))),
  );
  const io: CliIo = {
    env: options.env ?? {},
    cwd,
    writeOut: (text) => out.push(text),
    writeErr: (text) => err.push(text),
    fetch: fetch as unknown as typeof globalThis.fetch,
    onSignal(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    exit: () => {},
  };
  return {
    io,
    fetch,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    signal: () => [...handlers].forEach((handler) => handler('SIGINT')),
    listeners: () => handlers.size,
  };
}

describe('herald', () => {
  it('prints help and exits 0', async () => {
    const { io, stdout } = fakeIo();
    expect(await runCli(['--help'], io)).toBe(0);
    for (const command of ['serve', 'publish', 'subscribe', 'token']) expect(stdout()).toContain(command);
  });

  it('exits 2 on an unknown command or option', async () => {
    const unknownCommand = fakeIo();
    expect(await runCli(['pubish'], unknownCommand.io)).toBe(2);
    expect(unknownCommand.stderr()).toContain("unknown command 'pubish'");
    const unknownOption = fakeIo();
    expect(await runCli(['token', '--user', 'a', '--nope'], unknownOption.io)).toBe(2);
    expect(unknownOption.stderr()).toContain("unknown option '--nope'");
  });

  it('serve: reports a configuration error with exit 2 and no stack', async () => {
    const { io, stderr } = fakeIo({ env: { HERALD_PORT: 'eighty' } });
    expect(await runCli(['serve'], io)).toBe(2);
    expect(stderr()).toBe(
      'invalid configuration: HERALD_PORT (environment): must be an integer from 0 to 65535\n',
    );
    const flag = fakeIo();
    expect(await runCli(['serve', '--ping-interval', 'soon'], flag.io)).toBe(2);
    expect(flag.stderr()).toMatch(
      /^invalid configuration: --ping-interval \(command line\): must be a duration/,
    );
  });
});

describe('herald token', () => {
  async function mint(args: string[], env: NodeJS.ProcessEnv = { HERALD_TOKEN_SECRET: SECRET }) {
    const cli = fakeIo({ env });
    const code = await runCli(['token', ...args], cli.io);
    return { code, token: cli.stdout().trim(), stderr: cli.stderr() };
  }

  it('mints an HS256 token for the user that expires in 24h by default', async () => {
    const { code, token } = await mint(['--user', 'alice']);
    expect(code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('alice');
    expect(Number(payload.exp) - Number(payload.iat)).toBe(24 * 3600);
    expect(payload['channels']).toBeUndefined();
    expect((await new TokenVerifier({ secret: SECRET }).verify(token)).user).toBe('alice');
  });

  it('adds channels, info and a ttl', async () => {
    const { code, token } = await mint([
      '--user',
      'bob',
      '--channels',
      'chat:*, news',
      '--ttl',
      '1h',
      '--info',
      '{"name":"Bob"}',
    ]);
    expect(code).toBe(0);
    const payload = decodeJwt(token);
    expect(payload['channels']).toEqual(['chat:*', 'news']);
    expect(payload['info']).toEqual({ name: 'Bob' });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(3600);
    const claims = await new TokenVerifier({ secret: SECRET }).verify(token);
    expect(claims.channels?.('chat:room')).toBe(true);
    expect(claims.channels?.('other')).toBe(false);
  });

  it('mints a channel token for a private channel with --channel', async () => {
    const { code, token } = await mint(['--user', 'alice', '--channel', 'dm:alice-bob']);
    expect(code).toBe(0);
    await expect(new TokenVerifier({ secret: SECRET }).verifyChannel(token)).resolves.toMatchObject({
      user: 'alice',
      channel: 'dm:alice-bob',
    });
    expect((await mint(['--user', 'alice', '--channel', 'bad channel'])).code).not.toBe(0);
  });

  it('mints a token without expiry for --ttl 0', async () => {
    const { token } = await mint(['--user', 'svc', '--ttl', '0']);
    expect(decodeJwt(token).exp).toBeUndefined();
  });

  it('takes the secret from --token-secret over the environment, or from the config file', async () => {
    const flagSecret = 'f'.repeat(40);
    const fromFlag = await mint(['--user', 'a', '--token-secret', flagSecret]);
    await expect(jwtVerify(fromFlag.token, new TextEncoder().encode(flagSecret))).resolves.toBeTruthy();

    const fileSecret = 'c'.repeat(32);
    writeFileSync(join(cwd, 'herald.config.json'), JSON.stringify({ tokenSecret: fileSecret }));
    const fromFile = await mint(['--user', 'a'], {});
    await expect(jwtVerify(fromFile.token, new TextEncoder().encode(fileSecret))).resolves.toBeTruthy();
  });

  it('exits 2 without a secret instead of signing with a random one', async () => {
    const { code, token, stderr } = await mint(['--user', 'a'], {});
    expect(code).toBe(2);
    expect(token).toBe('');
    expect(stderr).toContain('error: no token secret: pass --token-secret, set HERALD_TOKEN_SECRET');
  });

  it('exits 2 on a secret the server would refuse', async () => {
    const { code, stderr } = await mint(['--user', 'a', '--token-secret', 'short']);
    expect(code).toBe(2);
    expect(stderr).toContain(
      'invalid configuration: --token-secret (command line): must be at least 32 bytes',
    );
  });

  it.each([
    [[], "required option '--user <id>' not specified"],
    [['--user', ''], '--user must not be empty'],
    [['--user', 'a', '--ttl', 'forever'], 'use a duration such as 30m'],
    [['--user', 'a', '--channels', 'chat room'], '"chat room" is not a channel or pattern'],
    [['--user', 'a', '--info', '[1]'], '--info must be a JSON object'],
    [['--user', 'a', '--info', '{name}'], '--info is not valid JSON'],
  ])('exits 2 on bad arguments: %j', async (args, message) => {
    const { code, stderr } = await mint(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('herald publish', () => {
  const okFetch: FetchMock = () => Promise.resolve(Response.json({ offset: 7, epoch: 'e1' }));

  it('posts the message with the API key and prints the result', async () => {
    const cli = fakeIo({ env: { HERALD_API_KEY: API_KEY }, fetch: okFetch });
    const code = await runCli(['publish', 'chat:lobby', '{"text":"hi"}', '--idempotency-key', 'k-1'], cli.io);
    expect(code).toBe(0);
    expect(cli.stdout()).toBe('{"offset":7,"epoch":"e1"}\n');
    const [url, init] = cli.fetch.mock.calls[0] ?? [];
    expect(url).toBe('http://127.0.0.1:8080/api/publish');
    expect(init?.method).toBe('POST');
    expect(init?.headers).toMatchObject({
      authorization: `apikey ${API_KEY}`,
      'content-type': 'application/json',
    });
    expect(JSON.parse(String(init?.body))).toEqual({
      channel: 'chat:lobby',
      data: { text: 'hi' },
      idempotencyKey: 'k-1',
    });
  });

  it('takes --url and --api-key over HERALD_URL and HERALD_API_KEY, keeping a path prefix', async () => {
    const cli = fakeIo({
      env: { HERALD_URL: 'http://ignored:1', HERALD_API_KEY: 'ignored' },
      fetch: okFetch,
    });
    const args = ['publish', 'news', '42', '--url', 'https://edge.example/herald/', '--api-key', API_KEY];
    expect(await runCli(args, cli.io)).toBe(0);
    const [url, init] = cli.fetch.mock.calls[0] ?? [];
    expect(url).toBe('https://edge.example/herald/api/publish');
    expect(init?.headers).toMatchObject({ authorization: `apikey ${API_KEY}` });
    expect(JSON.parse(String(init?.body))).toEqual({ channel: 'news', data: 42 });
  });

  it('exits 2 on an argument that is not JSON, before any request', async () => {
    const cli = fakeIo({ env: { HERALD_API_KEY: API_KEY }, fetch: okFetch });
    expect(await runCli(['publish', 'chat:lobby', '{text: hi}'], cli.io)).toBe(2);
    expect(cli.stderr()).toMatch(/^error: <json> is not valid JSON \(.+\); quote it for the shell/);
    expect(cli.fetch).not.toHaveBeenCalled();
  });

  it('exits 2 on an invalid channel name, saying why', async () => {
    const cli = fakeIo({ env: { HERALD_API_KEY: API_KEY }, fetch: okFetch });
    expect(await runCli(['publish', 'chat lobby', '{}'], cli.io)).toBe(2);
    expect(cli.stderr()).toContain(
      'error: invalid channel "chat lobby": channel has a character that is not allowed',
    );
    expect(cli.fetch).not.toHaveBeenCalled();
  });

  it('exits 2 without an API key or with a URL that is not one', async () => {
    const noKey = fakeIo({ fetch: okFetch });
    expect(await runCli(['publish', 'a', '{}'], noKey.io)).toBe(2);
    expect(noKey.stderr()).toContain('error: no API key: pass --api-key or set HERALD_API_KEY');
    const badUrl = fakeIo({ env: { HERALD_API_KEY: API_KEY, HERALD_URL: 'localhost:8080' }, fetch: okFetch });
    expect(await runCli(['publish', 'a', '{}'], badUrl.io)).toBe(2);
    expect(badUrl.stderr()).toContain('HERALD_URL must be an http(s):// or ws(s):// URL');
  });

  it("exits 1 with the server's error code and message", async () => {
    const fetch: FetchMock = () =>
      Promise.resolve(
        Response.json(
          { error: { code: 'HERALD_ERR_INVALID_API_KEY', message: 'invalid API key' } },
          { status: 401 },
        ),
      );
    const cli = fakeIo({ env: { HERALD_API_KEY: API_KEY }, fetch });
    expect(await runCli(['publish', 'a', '{}'], cli.io)).toBe(1);
    expect(cli.stderr()).toBe('error: HERALD_ERR_INVALID_API_KEY: invalid API key (HTTP 401)\n');
    expect(cli.stdout()).toBe('');
  });

  it('reads flat error bodies and bodies that are not JSON', async () => {
    const flat = fakeIo({
      env: { HERALD_API_KEY: API_KEY },
      fetch: () =>
        Promise.resolve(
          Response.json({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'bad type' }, { status: 415 }),
        ),
    });
    expect(await runCli(['publish', 'a', '{}'], flat.io)).toBe(1);
    expect(flat.stderr()).toBe('error: FST_ERR_CTP_INVALID_MEDIA_TYPE: bad type (HTTP 415)\n');
    const text = fakeIo({
      env: { HERALD_API_KEY: API_KEY },
      fetch: () => Promise.resolve(new Response('Bad Gateway', { status: 502 })),
    });
    expect(await runCli(['publish', 'a', '{}'], text.io)).toBe(1);
    expect(text.stderr()).toBe('error: HTTP 502: Bad Gateway\n');
  });

  it('exits 1 when the server cannot be reached', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:8080'),
    });
    const cli = fakeIo({ env: { HERALD_API_KEY: API_KEY }, fetch: () => Promise.reject(refused) });
    expect(await runCli(['publish', 'a', '{}'], cli.io)).toBe(1);
    expect(cli.stderr()).toBe(
      'error: cannot reach Herald at http://127.0.0.1:8080/api/publish: connect ECONNREFUSED 127.0.0.1:8080\n',
    );
  });
});

describe('herald subscribe', () => {
  interface Call {
    method: string;
    params: unknown;
  }

  /** A protocol client whose subscribe replies (and pushes sent "during" them) the test scripts. */
  function fakeClient(script: {
    subscribe?: (
      request: SubscribeRequest,
      push: (channel: string, pub: PublicationFrame) => void,
    ) => SubscribeResult;
    connectError?: Error;
  }) {
    const calls: Call[] = [];
    let listener: ((channel: string, pub: PublicationFrame) => void) | undefined;
    let closeWith: (event: { code: number; reason: string }) => void = () => {};
    const push = (channel: string, pub: PublicationFrame) => listener?.(channel, pub);
    const call = async (method: string, params: unknown): Promise<unknown> => {
      calls.push({ method, params });
      if (method === 'connect') {
        if (script.connectError !== undefined) throw script.connectError;
        return { client: 'c1', version: '1', ping: 25 };
      }
      return script.subscribe?.(params as SubscribeRequest, push) ?? { recoverable: false };
    };
    const client = {
      call: call as SubscriptionClient['call'],
      onPublication: (handler: (channel: string, pub: PublicationFrame) => void) => {
        listener = handler;
      },
      closed: new Promise<{ code: number; reason: string }>((resolve) => {
        closeWith = resolve;
      }),
      close: vi.fn(),
    } satisfies SubscriptionClient;
    const open = vi.fn<OpenClient>(() => Promise.resolve(client));
    return {
      client,
      open,
      calls,
      push,
      serverClose: (code: number, reason: string) => closeWith({ code, reason }),
    };
  }

  const pub = (offset: number, text: string): PublicationFrame => ({
    offset,
    epoch: 'E',
    data: { text },
    time: 1000 + offset,
  });

  it('prints recovered publications, then live ones, then exits 1 when the server closes', async () => {
    const fake = fakeClient({
      subscribe: (_request, push) => {
        // A live publication handled before the reply's awaiter runs must still come after the recovered ones.
        push('chat:lobby', pub(8, 'live'));
        return {
          recoverable: true,
          offset: 7,
          epoch: 'E',
          recovered: true,
          publications: [pub(6, 'r1'), pub(7, 'r2')],
        };
      },
    });
    const cli = fakeIo({ env: { HERALD_TOKEN: 'jwt-from-env' } });
    const run = runCli(['subscribe', 'chat:lobby', '--since', '5', '--epoch', 'E'], cli.io, {
      openClient: fake.open,
    });
    await vi.waitFor(() => expect(fake.calls).toHaveLength(2));
    fake.push('chat:lobby', pub(9, 'later'));
    fake.serverClose(3001, 'slow consumer');
    expect(await run).toBe(1);

    expect(fake.open).toHaveBeenCalledWith('ws://127.0.0.1:8080/connection/websocket');
    expect(fake.calls).toEqual([
      { method: 'connect', params: { token: 'jwt-from-env' } },
      { method: 'subscribe', params: { channel: 'chat:lobby', since: { offset: 5, epoch: 'E' } } },
    ]);
    const lines = cli
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { offset: number });
    expect(lines.map((line) => line.offset)).toEqual([6, 7, 8, 9]);
    expect(lines[0]).toEqual({
      channel: 'chat:lobby',
      offset: 6,
      epoch: 'E',
      data: { text: 'r1' },
      time: 1006,
    });
    expect(cli.stderr()).toContain('recovered 2 publications after offset 5, epoch E');
    expect(cli.stderr()).toContain('error: the server closed the connection (code 3001: slow consumer)');
    expect(cli.listeners()).toBe(0);
  });

  it('says so on stderr when the position cannot be recovered', async () => {
    const fake = fakeClient({
      subscribe: () => ({ recoverable: true, offset: 40, epoch: 'NEW', recovered: false, publications: [] }),
    });
    const cli = fakeIo();
    const run = runCli(
      ['subscribe', 'chat:lobby', '--since', '5', '--epoch', 'OLD', '--token', 't'],
      cli.io,
      {
        openClient: fake.open,
      },
    );
    await vi.waitFor(() => expect(cli.stderr()).toContain('note:'));
    expect(cli.stderr()).toContain(
      'note: could not recover chat:lobby from offset 5, epoch OLD: publications since then may be missing; continuing from offset 40, epoch NEW',
    );
    fake.serverClose(1000, '');
    expect(await run).toBe(1);
  });

  it('subscribes to several channels, connects anonymously without a token, and exits 0 on SIGINT', async () => {
    const fake = fakeClient({ subscribe: () => ({ recoverable: false }) });
    const cli = fakeIo();
    const run = runCli(['subscribe', 'a', 'b:c', '--url', 'https://edge.example/herald'], cli.io, {
      openClient: fake.open,
    });
    await vi.waitFor(() => expect(fake.calls).toHaveLength(3));
    fake.push('b:c', { data: 'x', time: 5 });
    cli.signal();
    expect(await run).toBe(0);
    expect(fake.open).toHaveBeenCalledWith('wss://edge.example/herald/connection/websocket');
    expect(fake.calls[0]).toEqual({ method: 'connect', params: {} });
    expect(fake.calls.slice(1).map((call) => call.params)).toEqual([{ channel: 'a' }, { channel: 'b:c' }]);
    expect(cli.stdout()).toBe('{"channel":"b:c","data":"x","time":5}\n');
    expect(cli.stderr()).toContain('subscribed to a (no history)');
    expect(fake.client.close).toHaveBeenCalled();
    expect(cli.listeners()).toBe(0);
  });

  it('exits 1 with the reason when connect is refused', async () => {
    const refused = Object.assign(new Error('invalid token: signature does not match'), { code: 101 });
    const fake = fakeClient({ connectError: refused });
    const cli = fakeIo();
    expect(await runCli(['subscribe', 'a', '--token', 'bad'], cli.io, { openClient: fake.open })).toBe(1);
    expect(cli.stderr()).toBe('error: connect failed: invalid token: signature does not match (101)\n');
  });

  it('exits 1 when the server cannot be reached', async () => {
    const cli = fakeIo();
    const open: OpenClient = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8080'));
    expect(await runCli(['subscribe', 'a'], cli.io, { openClient: open })).toBe(1);
    expect(cli.stderr()).toBe(
      'error: cannot connect to ws://127.0.0.1:8080/connection/websocket: connect ECONNREFUSED 127.0.0.1:8080\n',
    );
  });

  it.each([
    [['bad channel!'], 'error: invalid channel "bad channel!"'],
    [['a', '--since', '5'], '--since and --epoch go together'],
    [['a', 'b', '--since', '5', '--epoch', 'E'], '--since recovers one channel'],
    [['a', '--since', '-1', '--epoch', 'E'], 'must be a non-negative integer'],
    [[], "missing required argument 'channel'"],
  ])('exits 2 on bad arguments: %j', async (args, message) => {
    const fake = fakeClient({});
    const cli = fakeIo();
    expect(await runCli(['subscribe', ...args], cli.io, { openClient: fake.open })).toBe(2);
    expect(cli.stderr()).toContain(message);
    expect(fake.open).not.toHaveBeenCalled();
  });
});
