/**
 * The dashboard (`/`) and the chat demo (`/demo`) in headless Chromium against real servers: sign in,
 * the overview shows the numbers of `/api/info`, the inspector receives a publication made through the
 * API, two demo pages chat with each other, and the dashboard comes back live after its server
 * restarts, without a reload. Screenshots go to test-results/screenshots/. Also: how the pages are
 * served (types, caching, compression; the welcome page when the dashboard is off), and the overview's
 * stats model on its own.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { StatsModel, type StatsSample } from '../../web/src/dashboard/stats-model.ts';
import { launchChromium } from '../helpers/browser.ts';
import { startTestHerald, type TestHerald } from '../helpers/herald.ts';

const SCREENSHOTS = 'test-results/screenshots';

let browser: Browser;
beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** A browser context of its own (cookies, storage); waits fail after 10 s, naming what they waited for. */
async function newContext(width = 1360, height = 860): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height } });
  context.setDefaultTimeout(10_000);
  return context;
}

/** Opens `path` in a fresh context (or `context`) and signs in with the API key. */
async function signedInPage(herald: TestHerald, path: string, context?: BrowserContext): Promise<Page> {
  const page = await (context ?? (await newContext())).newPage();
  await page.goto(`${herald.url}${path}`);
  await page.fill('input[name=secret]', herald.config.apiKey);
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=secret]', { state: 'detached' });
  return page;
}

async function closePage(page: Page): Promise<void> {
  await page.context().close();
}

interface Numbers {
  nodes: number;
  connections: number;
  subscriptions: number;
  channels: number;
}

async function apiInfoNumbers(herald: TestHerald): Promise<Numbers & { ids: string[] }> {
  const response = await fetch(`${herald.url}/api/info`, {
    headers: { authorization: `apikey ${herald.config.apiKey}` },
  });
  const { nodes } = (await response.json()) as { nodes: (Numbers & { id: string })[] };
  const sum = (key: keyof Numbers) => nodes.reduce((total, node) => total + node[key], 0);
  return {
    nodes: nodes.length,
    connections: sum('connections'),
    subscriptions: sum('subscriptions'),
    channels: sum('channels'),
    ids: nodes.map(({ id }) => id),
  };
}

async function overviewNumbers(page: Page): Promise<Numbers> {
  const read = async (metric: string) =>
    Number(await page.getAttribute(`[data-testid=metric-${metric}]`, 'data-value'));
  return {
    nodes: await read('nodes'),
    connections: await read('connections'),
    subscriptions: await read('subscriptions'),
    channels: await read('channels'),
  };
}

/** Waits until the overview shows what /api/info says (they converge within a couple of seconds). */
async function expectOverviewMatchesInfo(page: Page, herald: TestHerald): Promise<Numbers> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [shown, { ids, ...info }] = await Promise.all([overviewNumbers(page), apiInfoNumbers(herald)]);
    const rows = await page.$$eval('[data-testid=nodes] tr[data-node]', (trs) =>
      trs.map((tr) => tr.getAttribute('data-node')),
    );
    if (JSON.stringify(shown) === JSON.stringify(info) && JSON.stringify(rows) === JSON.stringify(ids)) {
      return shown;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the overview shows ${JSON.stringify({ shown, rows })}, /api/info says ${JSON.stringify({ info, ids })}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const waitForLive = (page: Page, testId = 'live-status') =>
  page.waitForSelector(`[data-testid=${testId}][data-live=true]`, { timeout: 15_000 });

describe('the dashboard', () => {
  let herald: TestHerald;
  beforeAll(async () => {
    herald = await startTestHerald();
  });
  afterAll(() => herald?.close());

  it('signs in, and the overview shows the same numbers as /api/info', async () => {
    // Some traffic to look at: three subscribers on two channels.
    const clients = await Promise.all([1, 2, 3].map(() => herald.client()));
    await Promise.all(
      clients.map((client, n) => client.call('subscribe', { channel: n === 0 ? 'chat:a' : 'chat:b' })),
    );
    const page = await (await newContext()).newPage();
    try {
      await page.goto(`${herald.url}/`);
      await page.fill('input[name=secret]', 'not-the-key');
      await page.click('button[type=submit]');
      expect(await page.textContent('[role=alert]')).toContain('wrong');
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-sign-in.png` });

      await page.fill('input[name=secret]', herald.config.apiKey);
      await page.click('button[type=submit]');
      await waitForLive(page);
      await page.waitForSelector(`[data-testid=nodes] tr[data-node="${herald.node.id}"][data-live=true]`);
      const shown = await expectOverviewMatchesInfo(page, herald);
      // The three clients, and the dashboard itself subscribed to $herald:stats.
      expect(shown).toEqual({ nodes: 1, connections: 4, subscriptions: 4, channels: 3 });

      // A few seconds of publishing draws the rates.
      for (let second = 0; second < 4; second++) {
        await Promise.all([1, 2, 3, 4, 5].map((n) => herald.publish('chat:b', { n })));
        await new Promise((resolve) => setTimeout(resolve, 800));
      }
      await page.waitForFunction(
        () =>
          Number(document.querySelector('[data-testid=metric-deliveryRate]')?.getAttribute('data-value')) > 0,
      );
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-overview.png`, fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-overview-dark.png`, fullPage: true });
      await page.emulateMedia({ colorScheme: 'light' });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-overview-mobile.png`, fullPage: true });

      // Reloading keeps the session (the cookie).
      await page.setViewportSize({ width: 1360, height: 860 });
      await page.reload();
      await waitForLive(page);
    } finally {
      await closePage(page);
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('inspects a channel: receives a publication made through the API, publishes, reads history and presence', async () => {
    const channel = 'chat:inspect';
    const page = await signedInPage(herald, '/#/channels');
    try {
      await page.fill('[data-testid=channel-search]', channel);
      await page.press('[data-testid=channel-search]', 'Enter');
      await page.waitForSelector('[data-testid=channel-view] .badge.good', { timeout: 10_000 });
      // The dashboard's own subscription lists the channel.
      await page.waitForSelector(`[data-testid=channel-list] a.selected >> text=${channel}`);

      await herald.publish(channel, { text: 'published through the API' });
      await page.waitForSelector('[data-testid=feed] >> text=published through the API');

      await page.fill('[data-testid=publish-data]', '{"text": "published from the dashboard"}');
      await page.click('[data-testid=publish]');
      await page.waitForSelector('[data-testid=feed] >> text=published from the dashboard');
      await page.waitForSelector('text=Published at offset 2.');
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-inspector.png` });

      await page.click('role=tab[name="History"]');
      await page.waitForSelector('[data-testid=history] >> text=published through the API');
      expect(await page.textContent('[data-testid=history]')).toContain('published from the dashboard');

      await page.click('role=tab[name="Presence"]');
      // The default namespace keeps no presence: the panel says so rather than failing.
      await page.waitForSelector('[data-testid=presence] >> text=keeps no presence');

      const history = await fetch(`${herald.url}/api/history?channel=${encodeURIComponent(channel)}`, {
        headers: { authorization: `apikey ${herald.config.apiKey}` },
      });
      expect(
        ((await history.json()) as { publications: { data: unknown }[] }).publications.map((p) => p.data),
      ).toEqual([{ text: 'published through the API' }, { text: 'published from the dashboard' }]);
    } finally {
      await closePage(page);
    }
  });

  it('lets two demo pages chat with each other', { timeout: 40_000 }, async () => {
    const [ann, bob] = await Promise.all(
      ['Ann', 'Bob'].map(async (name) => {
        const context = await newContext(960, 640);
        const page = await signedInPage(herald, '/demo#e2e', context);
        await page.fill('input[name=name]', name);
        await page.click('button[type=submit]');
        await waitForLive(page, 'chat-status');
        return page;
      }),
    );
    const cy = await newContext(960, 640);
    try {
      if (ann === undefined || bob === undefined) throw new Error('no pages');
      for (const page of [ann, bob]) {
        await page.waitForSelector('[data-testid=people] >> text=Ann');
        await page.waitForSelector('[data-testid=people] >> text=Bob');
      }
      await ann.fill('[data-testid=message-input]', 'Hi Bob, can you read me?');
      await ann.press('[data-testid=message-input]', 'Enter');
      await bob.waitForSelector('[data-testid=messages] >> text=Hi Bob, can you read me?');
      await bob.fill('[data-testid=message-input]', 'Loud and clear, Ann.');
      await bob.press('[data-testid=message-input]', 'Enter');
      await ann.waitForSelector('[data-testid=messages] >> text=Loud and clear, Ann.');

      // A third person arrives: Herald's history shows them the conversation, and the others see them join.
      const page = await signedInPage(herald, '/demo#e2e', cy);
      await page.fill('input[name=name]', 'Cy');
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=messages] >> text=Loud and clear, Ann.');
      expect(await page.textContent('[data-testid=messages]')).toContain('Hi Bob, can you read me?');
      await ann.waitForSelector('[data-testid=messages] >> text=Cy joined');
      await ann.waitForSelector('[data-testid=people] >> text=Cy');

      await ann.screenshot({ path: `${SCREENSHOTS}/demo-ann.png` });
      await bob.emulateMedia({ colorScheme: 'dark' });
      await bob.screenshot({ path: `${SCREENSHOTS}/demo-bob-dark.png` });

      await page.close();
      await ann.waitForSelector('[data-testid=messages] >> text=Cy left');
      const history = await fetch(`${herald.url}/api/history?channel=demo:e2e`, {
        headers: { authorization: `apikey ${herald.config.apiKey}` },
      });
      const { publications } = (await history.json()) as { publications: { data: unknown }[] };
      expect(publications.map(({ data }) => data)).toEqual([
        { name: 'Ann', text: 'Hi Bob, can you read me?' },
        { name: 'Bob', text: 'Loud and clear, Ann.' },
      ]);
    } finally {
      await cy.close();
      await Promise.all([ann, bob].map((page) => page && closePage(page)));
    }
  });
});

it(
  'survives a server restart: live again with the new node, without a reload',
  { timeout: 60_000 },
  async () => {
    const first = await startTestHerald();
    let second: TestHerald | undefined;
    const page = await signedInPage(first, '/');
    try {
      await waitForLive(page);
      await page.waitForSelector(`[data-testid=nodes] tr[data-node="${first.node.id}"][data-live=true]`);
      await expectOverviewMatchesInfo(page, first);
      await page.evaluate(() => Object.assign(window, { notReloaded: true }));

      await first.close();
      await page.waitForSelector('[data-testid=live-status][data-live=false]', { timeout: 10_000 });
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-restart-offline.png` });
      second = await startTestHerald({ port: first.port });

      await waitForLive(page);
      // Its samples arrive on $herald:stats again.
      await page.waitForSelector(`[data-testid=nodes] tr[data-node="${second.node.id}"][data-live=true]`, {
        timeout: 15_000,
      });
      // The old node drops off once its samples are 5 s old.
      await page.waitForSelector(`[data-testid=nodes] tr[data-node="${first.node.id}"]`, {
        state: 'detached',
        timeout: 15_000,
      });
      expect(await expectOverviewMatchesInfo(page, second)).toMatchObject({ nodes: 1, connections: 1 });
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
        true,
      );
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-restart-live.png`, fullPage: true });
    } finally {
      await closePage(page);
      await Promise.all([second?.close(), first.close()]);
    }
  },
);

describe('serving the pages', () => {
  it('serves the pages and their assets with types, caching and compression, hidden from OpenAPI', async () => {
    const herald = await startTestHerald();
    try {
      const page = await fetch(`${herald.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      const html = await page.text();
      expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere
      const assets = [...html.matchAll(/(?:href|src)="(\/dashboard\/assets\/[^"]+)"/g)].map(
        (m) => m[1] ?? '',
      );
      expect(assets.some((path) => path.endsWith('.js'))).toBe(true);
      expect(assets.some((path) => path.endsWith('.css'))).toBe(true);
      for (const path of assets) {
        const asset = await fetch(`${herald.url}${path}`); // fetch asks for gzip
        expect(asset.status).toBe(200);
        expect(asset.headers.get('content-type')).toMatch(
          path.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
        );
        expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(asset.headers.get('content-encoding')).toBe('gzip');
        expect((await asset.text()).length).toBeGreaterThan(100);
      }
      const plain = await fetch(`${herald.url}${assets[0]}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.headers.get('content-encoding')).toBeNull();
      expect((await fetch(`${herald.url}/demo`)).status).toBe(200);
      expect((await fetch(`${herald.url}/dashboard/assets/nope.js`)).status).toBe(404);
      expect((await fetch(`${herald.url}/dashboard/assets/..%2Fdashboard.html`)).status).toBe(404);
      const openapi = (await (await fetch(`${herald.url}/api/openapi.json`)).json()) as { paths: object };
      expect(Object.keys(openapi.paths).filter((path) => !path.startsWith('/api/'))).toEqual([]);
    } finally {
      await herald.close();
    }
  });

  it('shows the welcome page, saying how to turn the dashboard on, when it is off', async () => {
    const herald = await startTestHerald({ dashboard: false });
    try {
      const page = await fetch(`${herald.url}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Herald is running');
      expect(html).toContain('HERALD_ADMIN_PASSWORD');
      expect(html).toContain('HERALD_DASHBOARD=on');
      expect((await fetch(`${herald.url}/demo`)).status).toBe(404);
      expect((await fetch(`${herald.url}/dashboard/assets/whatever.js`)).status).toBe(404);
    } finally {
      await herald.close();
    }
  });
});

describe("the overview's stats model", () => {
  const sample = (at: number, published: number, overrides: Partial<StatsSample> = {}): StatsSample => ({
    node: 'a',
    name: 'node-a',
    at,
    connections: 10,
    subscriptions: 20,
    channels: 5,
    published,
    delivered: published * 3,
    transports: { websocket: 9, sse: 1 },
    ...overrides,
  });

  it('computes rates from consecutive samples, in any arrival order, and skips a counter reset', () => {
    const model = new StatsModel();
    model.addSample(sample(3000, 130));
    model.addSample(sample(1000, 100));
    expect(model.addSample(sample(1000, 100))).toBe(false);
    model.addSample(sample(2000, 110));
    expect(model.series('publishRate', 3000, 3)).toEqual([null, 10, 20]);
    expect(model.series('deliveryRate', 3000, 3)).toEqual([null, 30, 60]);
    model.addSample(sample(4000, 5)); // restarted: no rate from this pair
    expect(model.totals(4000).publishRate).toBe(0);
    model.addSample(sample(5000, 15));
    expect(model.totals(5000)).toMatchObject({
      nodes: 1,
      connections: 10,
      publishRate: 10,
      websocket: 9,
      sse: 1,
    });
  });

  it('sums nodes, takes the node list from /api/info, and drops a node silent for 5 s', () => {
    const model = new StatsModel();
    const info = {
      version: '0.1.0',
      engine: 'redis',
      uptime: 60,
      connections: 1,
      subscriptions: 1,
      channels: 1,
    };
    model.setInfo(
      [
        { id: 'a', name: 'node-a', ...info },
        { id: 'b', name: 'node-b', ...info, connections: 7 },
      ],
      500,
    );
    expect(model.totals(600)).toMatchObject({ nodes: 2, connections: 8 });
    model.addSample(sample(1000, 0));
    model.addSample(sample(1000, 0, { node: 'b', name: 'node-b', connections: 4 }));
    expect(model.totals(1000)).toMatchObject({ nodes: 2, connections: 14 });
    expect(model.series('connections', 2000, 2)).toEqual([14, 14]);
    model.addSample(sample(7000, 0)); // b stopped reporting after 1000
    expect(model.nodes(7000).map(({ id }) => id)).toEqual(['a']);
    expect(model.nodes(7000)[0]).toMatchObject({ version: '0.1.0', engine: 'redis', uptime: 66.5 });
    // Gone from the list, a node stays in the charts for the time they span.
    model.setInfo([{ id: 'a', name: 'node-a', ...info }], 7000);
    expect(model.series('connections', 7000, 7)).toEqual([14, 14, 14, null, null, null, 10]);
    expect(model.span(7000)).toBe(30);
  });
});
