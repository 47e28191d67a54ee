/**
 * The fuzzed Herald, in a process of its own so that a crash shows as an exit and its heap is
 * measured apart from the fuzzer's. Started by fuzz-server.ts with `--expose-gc` and an IPC channel:
 * sends `{type: 'ready', port}` once listening, answers `{type: 'heap'}` with the heap used after a
 * full garbage collection, and stops on `{type: 'stop'}` or when the parent goes away. Error-level
 * logs go to stdout, where the parent counts them. With `FUZZ_REDIS_URL` set it runs on that Redis,
 * otherwise on the memory engine.
 */
import pino from 'pino';
import { startHerald } from '../../src/server.ts';
import { testConfig } from '../helpers/config.ts';
import { FUZZ_NAMESPACES } from './scenario.ts';

const gc = (globalThis as { gc?: () => void }).gc;
const send = (message: object) => process.send?.(message);

const redisUrl = process.env['FUZZ_REDIS_URL'];
const herald = await startHerald(
  testConfig({
    namespaces: FUZZ_NAMESPACES,
    maxFrameBytes: Number(process.env['FUZZ_MAX_FRAME_BYTES']),
    ...(redisUrl === undefined ? {} : { redisUrl, redisPrefix: 'fuzz:' }),
  }),
  { logger: pino({ level: 'error' }) },
);

process.on('message', (message: { type?: string }) => {
  if (message.type === 'heap') {
    gc?.();
    gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    send({ type: 'heap', heapUsed, rss, gc: gc !== undefined });
  } else if (message.type === 'stop') {
    void herald.close().then(() => process.exit(0));
  }
});
process.on('disconnect', () => void herald.close().then(() => process.exit(0)));
send({ type: 'ready', port: herald.port });
