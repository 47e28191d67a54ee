/**
 * `/metrics` over real HTTP with real WebSocket clients: every family the operations guide lists is
 * there, and the counts move with what the clients and the API do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_API_KEY } from '../helpers/config.ts';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.ts';

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald();
});
afterAll(() => herald.close());

async function scrape(): Promise<{ text: string; value: (series: string) => number | undefined }> {
  const response = await fetch(`${herald.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  const text = await response.text();
  const value = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  return { text, value };
}

describe('/metrics', () => {
  it('counts connections, subscriptions, publications, deliveries, errors and latencies', async () => {
    const before = await scrape();
    const published = before.value('herald_publications_published_total') ?? 0;
    const clients = await Promise.all([herald.client(), herald.client()]);
    const received: unknown[] = [];
    for (const client of clients) {
      client.onMessage((message) => {
        if ((message as { push?: { pub?: unknown } }).push?.pub !== undefined) received.push(message);
      });
      await client.call('subscribe', { channel: 'metrics:a' });
    }
    await herald.publish('metrics:a', { n: 1 });
    await herald.publish('metrics:a', { n: 2 });
    await waitFor(() => received.length === 4, 3000, 'the deliveries');
    const bad = await fetch(`${herald.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'bad channel', data: 1 }),
    });
    expect(bad.status).toBe(400);

    const { text, value } = await scrape();
    expect(value('herald_connections{transport="websocket"}')).toBe(2);
    expect(value('herald_connections{transport="sse"}')).toBe(0);
    expect(value('herald_subscriptions')).toBe(2);
    expect(value('herald_channels')).toBe(1);
    expect(value('herald_publications_published_total')).toBe(published + 2);
    expect(value('herald_publications_delivered_total')).toBeGreaterThanOrEqual(4);
    expect(value('herald_publish_duration_seconds_count{source="api"}')).toBeGreaterThanOrEqual(2);
    expect(value('herald_engine_duration_seconds_count{operation="publish"}')).toBeGreaterThanOrEqual(2);
    expect(value('herald_errors_total{code="HERALD_ERR_INVALID_CHANNEL",via="api"}')).toBe(1);
    expect(value('herald_nodes')).toBe(1);
    expect(value('herald_ready')).toBe(1);
    expect(value('herald_slow_consumer_disconnects_total')).toBe(0);
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    // Node-level labels only: no channel name appears in any series.
    expect(text).not.toContain('metrics:a');
    for (const client of clients) client.close();
  });

  it('counts disconnects by close code and client errors by code', async () => {
    const client = await herald.client();
    await client.call('subscribe', { channel: 'bad channel' }).catch(() => undefined);
    const { value } = await scrape();
    expect(value('herald_errors_total{code="HERALD_ERR_INVALID_CHANNEL",via="client"}')).toBe(1);
    const forced = await fetch(`${herald.url}/api/disconnect`, {
      method: 'POST',
      headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice' }),
    });
    expect(forced.status).toBe(200);
    await client.closed;
    expect((await scrape()).value('herald_disconnects_total{code="3502"}')).toBe(1);
  });

  it('answers /healthz and /readyz', async () => {
    expect(await (await fetch(`${herald.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${herald.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', engine: 'memory' });
  });
});
