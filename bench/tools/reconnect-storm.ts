/**
 * A reconnect storm: N clients of the SDK lose their node at once (SIGKILL) and reconnect to it as it
 * comes back, while another node keeps publishing to their channel through the same Redis. Reports how
 * the reconnects spread over time (the SDK's full-jitter backoff), how many attempts they took, and
 * checks that every client recovered every publication once, in order.
 *
 *   node bin/run-ts.js bench/tools/reconnect-storm.ts [--clients 1000] [--min-delay 500] [--max-delay 20000]
 *
 * The clients run in this process (with `ws`), the two Herald nodes and Redis in their own.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { Herald, type Subscription } from '../../packages/client/src/index.ts';
import { mintToken } from '../../src/auth/tokens.ts';
import { HeraldProcess, tempDir } from '../lib/processes.ts';
import { freePort } from '../../test/helpers/free-port.ts';
import { startRedis } from '../../test/helpers/redis.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    'min-delay': { type: 'string', default: '500' },
    'max-delay': { type: 'string', default: '20000' },
  },
});
const CLIENTS = Number(values.clients);
const MIN_DELAY = Number(values['min-delay']);
const MAX_DELAY = Number(values['max-delay']);
const CHANNEL = 'bench:storm';
const BUCKET_MS = 250;

const redis = await startRedis();
const dir = tempDir('herald-storm-');
const config = join(dir.path, 'herald.config.json');
writeFileSync(config, JSON.stringify({ namespaces: { bench: { historySize: 1000, historyTtl: '10m' } } }));
const secret = randomBytes(32).toString('base64url');
const apiKey = randomBytes(16).toString('hex');
const env = (node: string) => ({
  HERALD_CONFIG: config,
  HERALD_API_KEY: apiKey,
  HERALD_TOKEN_SECRET: secret,
  HERALD_LOG_LEVEL: 'warn',
  HERALD_NODE_NAME: node,
  HERALD_REDIS_URL: redis.url,
  HERALD_REDIS_PREFIX: 'storm:',
});
const [portA, portB] = [await freePort(), await freePort()];
let nodeA = await HeraldProcess.start({ name: 'node-a', port: portA, env: env('a') });
const nodeB = await HeraldProcess.start({ name: 'node-b', port: portB, env: env('b') });

let published = 0;
async function publish(): Promise<void> {
  const response = await fetch(`${nodeB.url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: CHANNEL, data: published + 1 }),
  });
  if (!response.ok) throw new Error(`publish failed: ${response.status}`);
  published += 1;
}

interface Tracked {
  client: Herald;
  subscription: Subscription<number>;
  received: number[];
  /** Connection attempts so far, the first one included. */
  attempts: () => number;
  reconnectedAt: number | undefined;
  recoveredAt: number | undefined;
  recovered: boolean | undefined;
}

const token = await mintToken(secret, { user: 'storm' });
const tracked: Tracked[] = [];
let killedAt = 0;
for (let i = 0; i < CLIENTS; i++) {
  let opened = 0;
  // Counts this client's connection attempts, refused ones included.
  class CountingWebSocket extends WebSocket {
    constructor(url: string, protocols: string | string[]) {
      super(url, protocols);
      opened += 1;
    }
  }
  const client = new Herald(`ws://127.0.0.1:${portA}/connection/websocket`, {
    token,
    websocket: CountingWebSocket,
    transports: ['websocket'],
    minReconnectDelay: MIN_DELAY,
    maxReconnectDelay: MAX_DELAY,
  });
  const subscription = client.newSubscription<number>(CHANNEL);
  const entry: Tracked = {
    client,
    subscription,
    received: [],
    attempts: () => opened,
    reconnectedAt: undefined,
    recoveredAt: undefined,
    recovered: undefined,
  };
  client.on('state', ({ newState }) => {
    if (newState === 'connected' && killedAt > 0) entry.reconnectedAt = Date.now() - killedAt;
  });
  subscription.on('publication', ({ data }) => entry.received.push(data));
  subscription.on('subscribed', ({ wasRecovering, recovered }) => {
    if (!wasRecovering) return;
    entry.recoveredAt = Date.now() - killedAt;
    entry.recovered = recovered;
  });
  subscription.subscribe();
  client.connect();
  tracked.push(entry);
}
await Promise.all(tracked.map(({ subscription }) => subscription.ready(30_000)));
for (let i = 0; i < 10; i++) await publish();
await waitUntil(() => tracked.every((t) => t.received.length === 10), 'every client to get 10 publications');
console.error(`${CLIENTS} clients subscribed; killing node A`);

killedAt = Date.now();
process.kill(nodeA.pid ?? 0, 'SIGKILL');
const publishing = (async () => {
  for (let i = 0; i < 50; i++) {
    await publish();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
})();
nodeA = await HeraldProcess.start({ name: 'node-a', port: portA, env: env('a') });
const upAfter = Date.now() - killedAt;
await publishing;
await waitUntil(() => tracked.every((t) => t.recoveredAt !== undefined), 'every client to recover', 120_000);
await waitUntil(() => tracked.every((t) => t.received.length === published), 'every publication', 30_000);

const expected = Array.from({ length: published }, (_, i) => i + 1);
const intact = tracked.filter((t) => t.received.every((value, i) => value === expected[i])).length;
const times = tracked.map((t) => t.reconnectedAt ?? Number.NaN).sort((a, b) => a - b);
const quantile = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN;
const histogram = new Map<number, number>();
for (const time of times) {
  const bucket = Math.floor(time / BUCKET_MS) * BUCKET_MS;
  histogram.set(bucket, (histogram.get(bucket) ?? 0) + 1);
}
const peak = Math.max(...histogram.values());

console.log(`# Reconnect storm: ${CLIENTS} clients lose their node at once\n`);
console.log(`Backoff: full jitter, first bound ${MIN_DELAY} ms, doubling up to ${MAX_DELAY} ms.`);
console.log(`Node A was accepting again ${upAfter} ms after the kill; ${published} publications in all.\n`);
console.log(
  `Reconnected (ms after the kill): p50 ${quantile(0.5)}, p90 ${quantile(0.9)}, p99 ${quantile(0.99)}, ` +
    `max ${times.at(-1)}; busiest ${BUCKET_MS} ms: ${peak} clients (${((100 * peak) / CLIENTS).toFixed(1)}%).`,
);
const attempts = tracked.map((t) => t.attempts() - 1).sort((a, b) => a - b);
console.log(
  `Reconnect attempts per client: median ${attempts[Math.floor(attempts.length / 2)]}, max ${attempts.at(-1)}.`,
);
console.log(
  `Recovered: ${tracked.filter((t) => t.recovered === true).length} of ${CLIENTS} with recovered: true; ` +
    `${intact} of ${CLIENTS} hold every publication once, in order.\n`,
);
console.log('| From (ms) | Reconnects |\n| ---: | ---: |');
for (const [bucket, count] of [...histogram].sort((a, b) => a[0] - b[0]))
  console.log(`| ${bucket} | ${count} |`);

for (const { client } of tracked) client.disconnect();
await Promise.all([nodeA.stop(), nodeB.stop()]);
await redis.stop();
dir.remove();

async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
