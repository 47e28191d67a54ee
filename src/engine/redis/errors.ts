/**
 * What a failed Redis call means for Herald's callers. Only an error Redis answered with because the
 * request itself cannot succeed (a key of the wrong type, a script bug) is internal; everything that
 * says "not now" is `HERALD_ERR_ENGINE_UNAVAILABLE` (503, temporary), so publishers retry.
 */
import { DisconnectsClientError, ErrorReply } from 'redis';
import { HeraldError } from '../../core/errors.ts';

/**
 * Error replies that say Redis cannot serve right now: a Cluster without a master for some slots
 * (CLUSTERDOWN) or a slot being migrated (TRYAGAIN), a replica or a master without its replicas
 * (READONLY, MASTERDOWN, NOREPLICAS), a server loading its data set (LOADING), busy with a long script
 * (BUSY), or out of memory (OOM).
 */
const TRANSIENT_REPLIES = [
  'CLUSTERDOWN',
  'TRYAGAIN',
  'READONLY',
  'MASTERDOWN',
  'NOREPLICAS',
  'LOADING',
  'BUSY',
  'OOM',
];

/** Thrown by `withTimeout` when Redis did not answer in time. */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
}

/**
 * Rejects when `operation` has not settled within `ms`. node-redis's own command timeout does not
 * fire for a command already written to a connection that stopped answering (a stalled server or
 * proxy keeps TCP open), so without this a call could wait forever.
 */
export async function withTimeout<T>(operation: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(`no answer from Redis within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function toEngineError(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err;
  if (err instanceof RedisTimeoutError) {
    return new HeraldError(
      'HERALD_ERR_ENGINE_UNAVAILABLE',
      'Redis did not answer in time; a publish may still have been applied, so retry it with an idempotency key',
      { cause: err },
    );
  }
  if (err instanceof DisconnectsClientError) {
    // A connection that stopped answering was replaced while this command waited on it.
    return new HeraldError(
      'HERALD_ERR_ENGINE_UNAVAILABLE',
      'the connection to Redis was dropped before it answered; a publish may still have been applied, so retry it with an idempotency key',
      { cause: err },
    );
  }
  if (err instanceof ErrorReply) {
    const prefix = err.message.split(' ', 1)[0] ?? '';
    if (TRANSIENT_REPLIES.includes(prefix)) {
      return new HeraldError('HERALD_ERR_ENGINE_UNAVAILABLE', `Redis cannot serve now (${prefix})`, {
        cause: err,
      });
    }
    return new HeraldError('HERALD_ERR_INTERNAL', 'Redis refused a command', { cause: err });
  }
  return new HeraldError('HERALD_ERR_ENGINE_UNAVAILABLE', 'Redis is not reachable', { cause: err });
}
