/**
 * `herald serve --workers`: a real primary and real worker processes behind one loopback port, sharing
 * a real redis-server. Worker processes are found through /proc (Linux), clients are placed on workers
 * by the kernel and the primary's round robin, and the worker that serves a client is read from its
 * log line (`client connected`, which carries the worker's index and pid).
 */
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublicationFrame } from '@herald/protocol';
import { mintToken } from '../../src/auth/tokens.ts';
import { ProtocolClient } from '../../src/cli/protocol-client.ts';
import { finished, isAlive, logLines, run, runToEnd, type Running } from '../helpers/cli.ts';
import { waitFor } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';

const SECRETS = {
  HERALD_API_KEY: 'workers-test-api-key-0123456789',
  HERALD_TOKEN_SECRET: 'workers-test-token-secret-0123456789-0123456789',
};
const START_TIMEOUT_MS = 40_000;

/** Children of `ppid` that run the herald command (tsx also starts an esbuild child, left out here). */
function heraldChildren(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after "pid (comm)": state, ppid, …; comm itself may contain spaces and parentheses.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('herald.js')) {
        pids.push(Number(entry));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Starts `herald serve --workers 2` on Redis and resolves once the primary says every worker listens. */
async function startWorkers(redis: RedisServer, env: Record<string, string>, extra: string[] = []) {
  const server = run(
    [
      'serve',
      '--workers',
      '2',
      '--port',
      '0',
      '--redis-url',
      redis.url,
      '--redis-prefix',
      uniquePrefix(),
      '--node-name',
      'e2e',
      ...extra,
    ],
    env,
  );
  await waitFor(() => server.stdout.includes('all workers listening'), START_TIMEOUT_MS, 'the workers');
  const listening = logLines(server).find((line) => line['msg'] === 'all workers listening');
  return { server, url: String(listening?.['url']), port: Number(listening?.['port']) };
}

interface Placed {
  readonly client: ProtocolClient;
  /** The pid of the worker process serving it. */
  readonly pid: number;
  readonly worker: number;
  readonly received: PublicationFrame[];
}

/** Opens `count` connected clients one after another and finds the worker serving each. */
async function openClients(server: Running, url: string, count: number): Promise<Placed[]> {
  const wsUrl = `${url.replace(/^http/, 'ws')}/connection/websocket`;
  const token = await mintToken(SECRETS.HERALD_TOKEN_SECRET, { user: 'worker-test' });
  const opened: { client: ProtocolClient; id: string }[] = [];
  for (let i = 0; i < count; i++) {
    const client = await ProtocolClient.open(wsUrl);
    const { client: id } = await client.call('connect', { token });
    opened.push({ client, id });
  }
  const connectedLine = (id: string) =>
    logLines(server).find((line) => line['msg'] === 'client connected' && line['client'] === id);
  await waitFor(
    () => opened.every(({ id }) => connectedLine(id) !== undefined),
    10_000,
    'the workers to log the connections',
  );
  return opened.map(({ client, id }) => {
    const line = connectedLine(id);
    const received: PublicationFrame[] = [];
    client.onPublication((_channel, publication) => received.push(publication));
    return { client, pid: Number(line?.['pid']), worker: Number(line?.['worker']), received };
  });
}

async function publish(url: string, channel: string, data: unknown): Promise<void> {
  const response = await fetch(`${url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${SECRETS.HERALD_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  expect(response.status).toBe(200);
}

/** Subscribes every client, publishes once through the API, and waits until each client has it. */
async function expectFanOut(clients: readonly Placed[], url: string, channel: string): Promise<void> {
  for (const { client } of clients) await client.call('subscribe', { channel });
  const text = `hello ${channel}`;
  await publish(url, channel, { text });
  await waitFor(
    () => clients.every(({ received }) => received.some((pub) => JSON.stringify(pub.data).includes(text))),
    10_000,
    `every client to receive the publication on ${channel}`,
  );
}

describe('herald serve --workers 2 with Redis', () => {
  let redis: RedisServer;
  let server: Running;
  let url: string;
  let port: number;
  const clients: Placed[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    ({ server, url, port } = await startWorkers(redis, SECRETS, ['--log-level', 'debug']));
  });
  afterAll(async () => {
    for (const { client } of clients) client.close();
    server.child.kill('SIGTERM');
    await finished(server);
    await redis.stop();
  });

  it('runs two named worker processes behind one port, and publications reach clients on both', async () => {
    expect(port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(server.stderr).not.toContain('Generated at start');
    const workers = heraldChildren(server.child.pid ?? 0);
    expect(workers).toHaveLength(2);

    // A worker's log line can reach the pipe after its ready message reached the primary.
    const startedLines = () => logLines(server).filter((line) => line['msg'] === 'herald started');
    await waitFor(() => startedLines().length === 2, 5000, 'both workers to log their start');
    const started = startedLines();
    expect(started.map((line) => line['node']).sort()).toEqual(['e2e-1', 'e2e-2']);
    expect(started.map((line) => line['worker']).sort()).toEqual([1, 2]);
    expect(started.every((line) => line['port'] === port)).toBe(true);
    // Each worker is a node of the deployment, and each lists both once they have heard each other.
    // A fresh connection per request lets either worker answer.
    const names = async () => {
      const info = await fetch(`${url}/api/info`, {
        headers: { authorization: `apikey ${SECRETS.HERALD_API_KEY}`, connection: 'close' },
      });
      const { nodes } = (await info.json()) as { nodes: { name: string }[] };
      return nodes
        .map((node) => node.name)
        .sort()
        .join();
    };
    let agreeing = 0;
    for (let i = 0; i < 200 && agreeing < 6; i++) {
      agreeing = (await names()) === 'e2e-1,e2e-2' ? agreeing + 1 : 0;
      if (agreeing === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(agreeing, 'consecutive answers listing both workers').toBe(6);

    clients.push(...(await openClients(server, url, 6)));
    expect(new Set(clients.map((placed) => placed.pid))).toEqual(new Set(workers));
    expect(new Set(clients.map((placed) => placed.worker))).toEqual(new Set([1, 2]));
    await expectFanOut(clients, url, 'chat:workers');
  });

  it('restarts a worker killed with SIGKILL and keeps serving', async () => {
    const primary = server.child.pid ?? 0;
    const [victim, survivor] = heraldChildren(primary);
    if (victim === undefined || survivor === undefined) throw new Error('expected two workers');
    process.kill(victim, 'SIGKILL');
    await waitFor(() => server.stdout.includes('"msg":"worker restarted"'), START_TIMEOUT_MS, 'the restart');
    const died = logLines(server).find((line) => line['msg'] === 'worker died; restarting it');
    expect(died).toMatchObject({ role: 'primary', workerPid: victim, signal: 'SIGKILL' });

    const workers = heraldChildren(primary);
    expect(workers).toHaveLength(2);
    expect(workers).toContain(survivor);
    expect(workers).not.toContain(victim);
    const replacement = workers.find((pid) => pid !== survivor);

    // The clients of the killed worker lost their connection; the others are still served.
    const kept = clients.filter((placed) => placed.pid === survivor);
    const fresh = await openClients(server, url, 4);
    clients.push(...fresh);
    expect(fresh.some((placed) => placed.pid === replacement)).toBe(true);
    await expectFanOut([...kept, ...fresh], url, 'chat:after-restart');
  }, 60_000);
});

describe('herald serve --workers 2: banner and shutdown', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('prints the banner once with the real port, and SIGTERM stops every process with exit 0', async () => {
    const { server, url, port } = await startWorkers(redis, {});
    await waitFor(() => server.stderr.includes('Watch a channel'), 10_000, 'the banner');
    expect(server.stderr.match(/Herald is running at/g)).toHaveLength(1);
    expect(server.stderr).toContain(`Herald is running at ${url} with Redis at`);
    expect(server.stderr).toContain('(2 worker processes).');
    expect(server.stderr).toContain(`127.0.0.1:${port}/api/publish`);

    // Both workers use the one generated key.
    const apiKey = /API key:\s+(\S+)/.exec(server.stderr)?.[1] ?? '';
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${url}/api/info`, {
        headers: { authorization: `apikey ${apiKey}`, connection: 'close' },
      });
      expect(response.status).toBe(200);
    }

    const workers = heraldChildren(server.child.pid ?? 0);
    expect(workers).toHaveLength(2);
    server.child.kill('SIGTERM');
    expect(await finished(server)).toBe(0);
    await waitFor(() => !workers.some(isAlive), 5000, 'the workers to exit');
    expect(logLines(server).filter((line) => line['msg'] === 'worker stopped')).toHaveLength(2);
  }, 60_000);

  it('gives up with exit 1 when workers keep dying at start', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const busyPort = (taken.address() as AddressInfo).port;
    try {
      const result = await runToEnd(
        ['serve', '--workers', '2', '--port', String(busyPort), '--redis-url', redis.url],
        SECRETS,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('EADDRINUSE');
      expect(result.stderr).toMatch(/error: worker [12] died 5 times in a row .*; giving up/);
      expect(result.stdout).not.toContain('all workers listening');
    } finally {
      taken.close();
    }
  }, 120_000);
});

describe('herald serve --workers: configuration', () => {
  it('refuses more than one worker on the memory engine, saying what to set', async () => {
    const result = await runToEnd(['serve', '--workers', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "invalid configuration: --workers (command line): more than one worker needs the Redis engine (set HERALD_REDIS_URL or HERALD_REDIS_CLUSTER_NODES): workers on the memory engine would not see each other's channels",
    );
  });

  it('names the key on a bad count', async () => {
    const zero = await runToEnd(['serve', '--workers', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--workers (command line): must be an integer from 1 to 1024, or auto');
    const word = await runToEnd(['serve'], { HERALD_WORKERS: 'abc' });
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('HERALD_WORKERS (environment): must be an integer from 1 to 1024, or auto');
  });

  it.skipIf(availableParallelism() === 1)('reads auto as one worker per core', async () => {
    const result = await runToEnd(['serve'], { HERALD_WORKERS: 'auto' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `HERALD_WORKERS (environment): auto means ${availableParallelism()} workers on this machine, and more than one worker needs the Redis engine`,
    );
  });

  it('runs a single process with one worker', async () => {
    const server = run(['serve', '--workers', '1', '--port', '0'], SECRETS);
    await waitFor(() => server.stdout.includes('herald started'), START_TIMEOUT_MS, 'the server');
    expect(heraldChildren(server.child.pid ?? 0)).toEqual([]);
    expect(server.stdout).not.toContain('"role":"primary"');
    server.child.kill('SIGTERM');
    expect(await finished(server)).toBe(0);
  });
});
