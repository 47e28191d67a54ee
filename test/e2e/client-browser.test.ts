/**
 * The client SDK's browser bundle in headless Chromium against real servers on Redis: a page served
 * by Herald loads `/sdk/herald-client.js`, subscribes and receives; its server restarts while more is
 * published, and the page recovers every missed publication once, in order. Then the same with
 * WebSocket blocked, so the SDK falls back to SSE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DEFAULT_NAMESPACE_OPTIONS } from '../../src/core/namespace.ts';
import { launchChromium } from '../helpers/browser.ts';
import { startTestHerald, type TestHerald } from '../helpers/herald.ts';
import { startRedis, uniquePrefix, type RedisServer } from '../helpers/redis.ts';

let redis: RedisServer;
let browser: Browser;
beforeAll(async () => {
  [redis, browser] = await Promise.all([startRedis(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await redis?.stop();
});

interface PageState {
  received: number[];
  subscribed: { recovered: boolean; wasRecovering: boolean }[];
  transports: string[];
}

/** Opens Herald's start page and runs the SDK in it, subscribed to `channel`. */
async function openPage(herald: TestHerald, channel: string, blockWebSocket: boolean): Promise<Page> {
  const page = await browser.newPage();
  if (blockWebSocket) await page.routeWebSocket(/\/connection\/websocket/, (ws) => ws.close());
  await page.goto(`${herald.url}/`);
  const token = await herald.token({ user: 'browser', ttlSeconds: 600 });
  await page.addScriptTag({
    type: 'module',
    content: `
      import { Herald } from '/sdk/herald-client.js';
      const state = (window.state = { received: [], subscribed: [], transports: [] });
      const url = location.origin.replace(/^http/, 'ws') + '/connection/websocket';
      const client = new Herald(url, { token: ${JSON.stringify(token)}, minReconnectDelay: 100, maxReconnectDelay: 500 });
      client.on('connected', ({ transport }) => state.transports.push(transport));
      const subscription = client.newSubscription(${JSON.stringify(channel)});
      subscription.on('publication', ({ data }) => state.received.push(data));
      subscription.on('subscribed', ({ recovered, wasRecovering }) => state.subscribed.push({ recovered, wasRecovering }));
      subscription.subscribe();
      client.connect();
    `,
  });
  return page;
}

const stateOf = (page: Page) => page.evaluate(() => (window as unknown as { state: PageState }).state);

async function waitForPage(
  page: Page,
  what: string,
  predicate: (state: PageState) => boolean,
): Promise<void> {
  let state: PageState | undefined;
  const deadline = Date.now() + 10_000;
  while (state === undefined || !predicate(state)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    state = await stateOf(page).catch(() => undefined);
  }
}

describe.each([
  ['WebSocket', false, 'websocket'],
  ['SSE, with WebSocket blocked', true, 'sse'],
])('the browser SDK over %s', (_name, blockWebSocket, transport) => {
  it('subscribes, receives, and recovers what it missed while its server restarted', async () => {
    const config = {
      redisUrl: redis.url,
      redisPrefix: uniquePrefix(),
      namespaces: { chat: { ...DEFAULT_NAMESPACE_OPTIONS } },
    };
    const [first, other] = await Promise.all([startTestHerald(config), startTestHerald(config)]);
    const channel = `chat:browser-${transport}`;
    const page = await openPage(first, channel, blockWebSocket);
    let restarted: TestHerald | undefined;
    try {
      await waitForPage(page, 'the subscription', (state) => state.subscribed.length === 1);
      for (let n = 1; n <= 5; n++) await first.publish(channel, n);
      await waitForPage(page, 'five publications', (state) => state.received.length === 5);

      await first.close();
      for (let n = 6; n <= 10; n++) await other.publish(channel, n);
      restarted = await startTestHerald({ ...config, port: first.port });
      await waitForPage(page, 'the resubscribe', (state) => state.subscribed.length === 2);
      await other.publish(channel, 11);
      await waitForPage(page, 'eleven publications', (state) => state.received.length >= 11);

      const state = await stateOf(page);
      expect(state.received).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(state.subscribed).toEqual([
        { recovered: false, wasRecovering: false },
        { recovered: true, wasRecovering: true },
      ]);
      expect(state.transports).toEqual([transport, transport]);
    } finally {
      await page.close();
      await Promise.all([restarted?.close(), other.close(), first.close()]);
    }
  });
});

it('serves the SDK bundles for pages to load', async () => {
  const herald = await startTestHerald();
  try {
    const bundle = await fetch(`${herald.url}/sdk/herald-client.iife.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect(await bundle.text()).toContain('HeraldClient');
    const esm = await fetch(`${herald.url}/sdk/herald-client.js`);
    expect(await esm.text()).toMatch(/export\s*\{/);
  } finally {
    await herald.close();
  }
});
