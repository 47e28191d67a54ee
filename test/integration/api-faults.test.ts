/**
 * The server API when the engine fails: unexpected failures answer 500 HERALD_ERR_INTERNAL without
 * leaking their details, Herald errors keep their own status, and a broadcast or a batch reports each
 * publication.
 * The engine is the real memory engine with one deterministic fault: publishing to `boom:*` throws.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeraldError } from '../../src/core/errors.ts';
import {
  PartialBatchError,
  type ChannelPolicy,
  type PublishItem,
  type PublishOptions,
  type PublishResult,
} from '../../src/engine/broker.ts';
import { MemoryBroker } from '../../src/engine/memory/memory-broker.ts';
import { startHerald, type HeraldServer } from '../../src/server.ts';
import { TEST_API_KEY, testConfig } from '../helpers/config.ts';

const SECRET_DETAIL = 'redis://admin:hunter2@10.0.0.7:6379';

function fail(channel: string): void {
  if (channel.startsWith('boom:')) throw new Error(`connection to ${SECRET_DETAIL} reset`);
  if (channel.startsWith('down:'))
    throw new HeraldError('HERALD_ERR_ENGINE_UNAVAILABLE', 'the engine is unreachable');
}

class FaultyBroker extends MemoryBroker {
  override async publish(channel: string, options: PublishOptions): Promise<PublishResult> {
    fail(channel);
    return super.publish(channel, options);
  }

  /** Also `half:*`: publishes the first half of the batch, then fails as an engine in steps can. */
  override async publishBatch(
    channel: string,
    items: readonly PublishItem[],
    policy: ChannelPolicy,
  ): Promise<PublishResult[]> {
    fail(channel);
    if (!channel.startsWith('half:')) return super.publishBatch(channel, items, policy);
    const published = await super.publishBatch(channel, items.slice(0, items.length / 2), policy);
    const cause = new HeraldError('HERALD_ERR_ENGINE_UNAVAILABLE', 'the engine went away');
    throw new PartialBatchError(cause, published);
  }
}

let server: HeraldServer;
const logged: string[] = [];

beforeAll(async () => {
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
  server = await startHerald(testConfig(), { logger, broker: new FaultyBroker() });
});
afterAll(() => server.close());

async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `apikey ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

describe('engine failures', () => {
  it('answers 500 HERALD_ERR_INTERNAL without internals, and logs the cause', async () => {
    const response = await post('/api/publish', { channel: 'boom:1', data: 1 });
    expect(response.status).toBe(500);
    expect(JSON.parse(response.text)).toEqual({
      error: { code: 'HERALD_ERR_INTERNAL', wireCode: 100, message: 'internal server error' },
    });
    expect(response.text).not.toContain('hunter2');
    expect(logged.join('\n')).toContain(SECRET_DETAIL);
  });

  it("answers a Herald error's own status (503 HERALD_ERR_ENGINE_UNAVAILABLE)", async () => {
    const response = await post('/api/publish', { channel: 'down:1', data: 1 });
    expect(response.status).toBe(503);
    expect(JSON.parse(response.text)).toEqual({
      error: { code: 'HERALD_ERR_ENGINE_UNAVAILABLE', wireCode: 115, message: 'the engine is unreachable' },
    });
  });

  it('reports failures per channel in a broadcast', async () => {
    const response = await post('/api/broadcast', { channels: ['ok:1', 'boom:2', 'down:2'], data: 1 });
    expect(response.status).toBe(200);
    expect(response.text).not.toContain('hunter2');
    expect(JSON.parse(response.text)).toEqual({
      results: [
        { channel: 'ok:1', offset: 1, epoch: expect.any(String) },
        {
          channel: 'boom:2',
          error: { code: 'HERALD_ERR_INTERNAL', wireCode: 100, message: 'internal server error' },
        },
        {
          channel: 'down:2',
          error: {
            code: 'HERALD_ERR_ENGINE_UNAVAILABLE',
            wireCode: 115,
            message: 'the engine is unreachable',
          },
        },
      ],
    });
  });

  it('reports failures per publication in a batch, and what an engine that failed part way published', async () => {
    const response = await post('/api/publish/batch', {
      publications: [
        { channel: 'half:1', data: 1 },
        { channel: 'ok:3', data: 1 },
        { channel: 'boom:3', data: 1 },
        { channel: 'half:1', data: 2 },
        { channel: 'down:3', data: 1 },
        { channel: 'half:1', data: 3 },
        { channel: 'half:1', data: 4 },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.text).not.toContain('hunter2');
    expect(logged.join('\n')).toMatch(/batch publication failed/);
    const gone = { code: 'HERALD_ERR_ENGINE_UNAVAILABLE', wireCode: 115, message: 'the engine went away' };
    expect(JSON.parse(response.text)).toEqual({
      results: [
        { channel: 'half:1', offset: 1, epoch: expect.any(String) },
        { channel: 'ok:3', offset: 1, epoch: expect.any(String) },
        {
          channel: 'boom:3',
          error: { code: 'HERALD_ERR_INTERNAL', wireCode: 100, message: 'internal server error' },
        },
        { channel: 'half:1', offset: 2, epoch: expect.any(String) },
        {
          channel: 'down:3',
          error: {
            code: 'HERALD_ERR_ENGINE_UNAVAILABLE',
            wireCode: 115,
            message: 'the engine is unreachable',
          },
        },
        { channel: 'half:1', error: gone },
        { channel: 'half:1', error: gone },
      ],
    });
  });
});
