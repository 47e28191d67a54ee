import { describe, expect, it } from 'vitest';
import { DisconnectsClientError, SimpleError } from 'redis';
import { RedisTimeoutError, toEngineError, withTimeout } from './errors.ts';

describe('toEngineError', () => {
  it.each([
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script',
    "READONLY You can't write against a read only replica.",
    "OOM command not allowed when used memory > 'maxmemory'.",
  ])('reports "%s" as the engine being unavailable, temporarily', (reply) => {
    const error = toEngineError(new SimpleError(reply));
    expect(error.code).toBe('HERALD_ERR_ENGINE_UNAVAILABLE');
    expect(error.temporary).toBe(true);
  });

  it('reports any other error reply as internal', () => {
    const error = toEngineError(
      new SimpleError('WRONGTYPE Operation against a key holding the wrong kind of value'),
    );
    expect(error.code).toBe('HERALD_ERR_INTERNAL');
  });

  it('says that a publish may have been applied when Redis did not answer in time', async () => {
    const error = toEngineError(
      await withTimeout(new Promise(() => undefined), 10).catch((err: unknown) => err),
    );
    expect(error.code).toBe('HERALD_ERR_ENGINE_UNAVAILABLE');
    expect(error.message).toMatch(/may still have been applied/);
    expect(error.cause).toBeInstanceOf(RedisTimeoutError);
  });

  it('says so too for a command dropped with a connection that was replaced', () => {
    const error = toEngineError(new DisconnectsClientError());
    expect(error.code).toBe('HERALD_ERR_ENGINE_UNAVAILABLE');
    expect(error.message).toMatch(/may still have been applied/);
  });

  it('reports a lost connection as the engine being unavailable', () => {
    expect(toEngineError(new Error('Socket closed unexpectedly')).code).toBe('HERALD_ERR_ENGINE_UNAVAILABLE');
  });
});
