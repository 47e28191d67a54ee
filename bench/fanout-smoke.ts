/**
 * A quick fan-out load script (not the benchmark suite): one Herald node in its own process on the
 * memory engine, N WebSocket subscribers of one channel in this process, and HTTP publishers sending
 * ~100-byte JSON messages for a fixed time. Prints publications/s accepted and messages/s delivered.
 *
 *   npm run load -- --subscribers 1000 --seconds 10 --publishers 8
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.ts';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    publishers: { type: 'string', default: '8' },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const SECONDS = Number(values.seconds);
const PUBLISHERS = Number(values.publishers);
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

async function main(): Promise<void> {
  const port = await freePort();
  const stop = await startServer(port);
  const token = await mintToken(SECRET, { user: 'load' });
  let delivered = 0;
  const sockets: WebSocket[] = [];
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
  console.log(
    JSON.stringify(
      {
        subscribers: SUBSCRIBERS,
        seconds: SECONDS,
        publishers: PUBLISHERS,
        publicationsPerSecond: Math.round(published / elapsed),
        deliveredPerSecond: Math.round(got / drained),
        delivered: got,
        expected,
      },
      null,
      2,
    ),
  );
  for (const ws of sockets) ws.terminate();
  stop();
}

await main();
