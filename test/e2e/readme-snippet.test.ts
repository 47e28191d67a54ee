/** Runs the README's browser snippet, unchanged, in headless Chromium against a real server. */
import { readFileSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

let herald: TestHerald;
let browser: Browser;

beforeAll(async () => {
  herald = await startTestHerald();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await herald?.close();
});

function readmeSnippet(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- browser-snippet[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (match?.[1] === undefined) throw new Error('README.md has no browser snippet block');
  return match[1];
}

it('subscribes from the start page with the README snippet and receives a publication', async () => {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (message) => logs.push(message.text()));
  await page.goto(`${herald.url}/`);
  expect(await page.textContent('#status')).toContain('Herald is running');

  const token = await herald.token({ user: 'browser', ttlSeconds: 600 });
  await page.addScriptTag({ content: readmeSnippet().replace('PASTE_CLIENT_TOKEN', token) });
  await waitFor(
    () => herald.node.localChannels('chat:lobby').channels.length === 1,
    10_000,
    'the page to subscribe',
  );

  await herald.publish('chat:lobby', { text: 'hello from the API' });
  await waitFor(
    () => logs.some((line) => line.startsWith('publication chat:lobby')),
    10_000,
    'the publication',
  );
  mkdirSync('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/readme-snippet.png' });
  await page.close();
});
