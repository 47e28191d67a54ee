/**
 * A quick fan-out load script (not the benchmark suite): one Herald node in its own process on the
 * memory engine, N WebSocket subscribers of one channel in this process, and HTTP publishers sending
 * ~100-byte JSON messages for a fixed time. Prints publications/s accepted and messages/s delivered.
 *
 *   npm run load -- --subscribers 1000 --seconds 10 --publishers 8
 *
 * The benchmark dispatcher runs it as the `fanout` scenario (`npm run bench -- --scenario fanout`)
 * through {@link runFanout}; run directly, it prints its result as JSON.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.ts';

/** The script's flags; the dispatcher applies its own defaults (smaller ones with `--quick`). */
export const FANOUT_OPTIONS = {
  subscribers: { type: 'string' },
  seconds: { type: 'string' },
  publishers: { type: 'string' },
} as const;

export interface FanoutOptions {
  readonly subscribers: number;
  readonly seconds: number;
  readonly publishers: number;
}

export interface FanoutResult extends FanoutOptions {
  readonly publicationsPerSecond: number;
  readonly deliveredPerSecond: number;
  readonly delivered: number;
  readonly expected: number;
}

const API_KEY = 'load-api-key-0123456789';
const SECRET = 'load-token-secret-0123456789-0123456789';
const CHANNEL = 'load:fanout';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function startServer(port: number): Promise<() => void> {
  const child = spawn(process.execPath, ['bin/herald.js', 'serve'], {
    env: {
      ...process.env,
      HERALD_PORT: String(port),
      HERALD_API_KEY: API_KEY,
      HERALD_TOKEN_SECRET: SECRET,
      HERALD_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return () => child.kill('SIGTERM');
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error('herald did not start');
}

async function subscribe(
  url: string,
  token: string,
  onMessages: (count: number) => void,
): Promise<WebSocket> {
  const ws = new WebSocket(url, 'herald.v1.json');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.includes('"id":2')) resolve();
      if (text.includes('{"ping":{}}')) ws.send('{"pong":{}}');
      let count = 1;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
      onMessages(count);
    });
  });
  ws.send(`{"id":1,"connect":{"token":"${token}"}}\n{"id":2,"subscribe":{"channel":"${CHANNEL}"}}`);
  await subscribed;
  return ws;
}

/** Starts a node, runs the load, stops everything (also when something fails) and returns the figures. */
export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const port = await freePort();
  const stop = await startServer(port);
  const sockets: WebSocket[] = [];
  try {
    return await load(port, sockets, options);
  } finally {
    for (const ws of sockets) ws.terminate();
    stop();
  }
}

async function load(port: number, sockets: WebSocket[], options: FanoutOptions): Promise<FanoutResult> {
  const { subscribers: SUBSCRIBERS, seconds: SECONDS, publishers: PUBLISHERS } = options;
  const token = await mintToken(SECRET, { user: 'load' });
  let delivered = 0;
  for (let i = 0; i < SUBSCRIBERS; i++) {
    sockets.push(
      await subscribe(`ws://127.0.0.1:${port}/connection/websocket`, token, (n) => (delivered += n)),
    );
  }
  const body = JSON.stringify({ channel: CHANNEL, data: { type: 'tick', text: 'x'.repeat(60), n: 0 } });
  let published = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const startDelivered = delivered;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (Date.now() < deadline) {
        const response = await fetch(`http://127.0.0.1:${port}/api/publish`, {
          method: 'POST',
          headers: { authorization: `apikey ${API_KEY}`, 'content-type': 'application/json' },
          body,
        });
        await response.arrayBuffer();
        if (response.ok) published++;
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const expected = published * SUBSCRIBERS;
  // Let in-flight deliveries land before counting.
  for (let i = 0; i < 100 && delivered - startDelivered < expected; i++)
    await new Promise((r) => setTimeout(r, 50));
  const drained = (Date.now() - started) / 1000;
  const got = delivered - startDelivered;
  return {
    subscribers: SUBSCRIBERS,
    seconds: SECONDS,
    publishers: PUBLISHERS,
    publicationsPerSecond: Math.round(published / elapsed),
    deliveredPerSecond: Math.round(got / drained),
    delivered: got,
    expected,
  };
}

// Run directly (`npm run load`): the original flags and defaults, JSON on stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: FANOUT_OPTIONS });
  const result = await runFanout({
    subscribers: Number(values.subscribers ?? '1000'),
    seconds: Number(values.seconds ?? '10'),
    publishers: Number(values.publishers ?? '8'),
  });
  console.log(JSON.stringify(result, null, 2));
}
