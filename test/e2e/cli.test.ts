/** The `herald` command as a user runs it: real processes, real HTTP and WebSocket on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectCode } from '@herald/protocol';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { finished, run, runToEnd, type Running } from '../helpers/cli.ts';
import { waitFor } from '../helpers/herald.ts';

describe('herald serve with nothing configured', () => {
  let server: Running;
  let url: string;
  let apiKey: string;
  let token: string;

  beforeAll(async () => {
    server = run(['serve', '--port', '0']);
    await waitFor(() => server.stderr.includes('Watch a channel'), 20_000, 'the start banner');
    url = /running at (http:\/\/\S+) with/.exec(server.stderr)?.[1] ?? '';
    apiKey = /API key:\s+(\S+)/.exec(server.stderr)?.[1] ?? '';
    token = /for user "demo".*\n\s+(\S+)/.exec(server.stderr)?.[1] ?? '';
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await finished(server);
  });

  it('prints generated credentials, a client token and a working curl example', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(apiKey.length).toBeGreaterThanOrEqual(32);
    expect(server.stderr).toMatch(/Token secret:\s+\S{32,}/);
    expect(server.stderr).toContain(`curl -X POST ${url}/api/publish -H 'Authorization: apikey ${apiKey}'`);
    const response = await fetch(`${url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `apikey ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'chat:lobby', data: { text: 'hello' } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ offset: 1 });
  });

  it('is closed to anyone without the credentials', async () => {
    const response = await fetch(`${url}/api/publish`, { method: 'POST' });
    expect(response.status).toBe(401);
    const anonymous = await ProtocolClient.open(`${url.replace('http', 'ws')}/connection/websocket`);
    await expect(anonymous.call('connect', {})).rejects.toThrow(/token is required/);
    expect((await anonymous.closed).code).toBe(DisconnectCode.UNAUTHORIZED);
  });

  it('accepts the printed client token', async () => {
    const client = await ProtocolClient.open(`${url.replace('http', 'ws')}/connection/websocket`);
    await expect(client.call('connect', { token })).resolves.toMatchObject({ version: '0.1.0' });
    client.close();
  });
});

describe('herald publish, subscribe and token against a configured server', () => {
  const env = {
    HERALD_API_KEY: 'cli-test-api-key-0123456789',
    HERALD_TOKEN_SECRET: 'cli-test-token-secret-0123456789-0123456789',
  };
  let server: Running;
  let url: string;

  beforeAll(async () => {
    server = run(['serve', '--port', '0', '--log-level', 'info'], env);
    await waitFor(() => server.stdout.includes('herald started'), 20_000, 'the server to start');
    url = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(server.stdout)?.[1] ?? '';
    expect(server.stderr).not.toContain('Generated at start');
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    expect(await finished(server)).toBe(0);
  });

  it('subscribes, receives what publish sends, and recovers with --since/--epoch', async () => {
    const minted = await runToEnd(['token', '--user', 'cli-user', '--ttl', '1h'], env);
    expect(minted.code).toBe(0);
    const clientEnv = { ...env, HERALD_URL: url, HERALD_TOKEN: minted.stdout.trim() };

    const subscriber = run(['subscribe', 'chat:cli'], clientEnv);
    await waitFor(() => subscriber.stderr.includes('subscribed'), 20_000, 'the subscriber');
    const published = await runToEnd(['publish', 'chat:cli', '{"n":1}'], clientEnv);
    expect(published.code).toBe(0);
    const first = JSON.parse(published.stdout) as { offset: number; epoch: string };
    expect(first.offset).toBe(1);
    await waitFor(() => subscriber.stdout.includes('"n":1'), 10_000, 'the publication');
    expect(JSON.parse(subscriber.stdout.trim())).toMatchObject({
      channel: 'chat:cli',
      offset: 1,
      data: { n: 1 },
    });
    subscriber.child.kill('SIGINT');
    expect(await finished(subscriber)).toBe(0);

    for (const n of [2, 3])
      expect((await runToEnd(['publish', 'chat:cli', `{"n":${n}}`], clientEnv)).code).toBe(0);
    const resumed = run(['subscribe', 'chat:cli', '--since', '1', '--epoch', first.epoch], clientEnv);
    await waitFor(() => resumed.stdout.trim().split('\n').length === 2, 20_000, 'the recovered publications');
    const lines = resumed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { offset: number });
    expect(lines.map((line) => line.offset)).toEqual([2, 3]);
    resumed.child.kill('SIGINT');
    await finished(resumed);
  });

  it('fails clearly on a bad JSON argument, an invalid channel and a wrong key', async () => {
    const clientEnv = { ...env, HERALD_URL: url };
    const badJson = await runToEnd(['publish', 'chat:cli', '{oops'], clientEnv);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/JSON/);
    const badChannel = await runToEnd(['publish', 'bad channel', '1'], clientEnv);
    expect(badChannel.code).toBe(2);
    expect(badChannel.stderr).toMatch(/channel/);
    const wrongKey = await runToEnd(['publish', 'chat:cli', '1'], {
      ...clientEnv,
      HERALD_API_KEY: 'wrong-key-0123456789',
    });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('HERALD_ERR_INVALID_API_KEY');
  });
});

describe('herald serve with bad configuration', () => {
  it('stops before starting, naming the bad key', async () => {
    const result = await runToEnd(['serve', '--port', 'eighty']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/port/);
    expect(result.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
