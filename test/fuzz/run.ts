/**
 * `npm run fuzz`: the full fuzzing run (100,000 protocol frames, then the HTTP sweep) against a fresh
 * Herald process, with a summary table. Exits 1 when anything was found. docs/reliability.md.
 *
 *   npm run fuzz -- --seed 7 --frames 20000
 */
import { intFlag } from '../../bench/lib/args.ts';
import { formatSummary, passed, runFuzz } from './fuzz.ts';

const USAGE = `usage: npm run fuzz -- [--seed N] [--frames N] [--concurrency N] [--api-rounds N] [--sse-frames N]
  --seed         seed of every generated input (default: random; printed, so a run can be repeated)
  --frames       protocol frames to send (default 100000)
  --concurrency  protocol connections open at once (default 32)
  --api-rounds   random mutations per API route, besides the fixed cases (default 50)
  --sse-frames   frames POSTed to SSE sessions (default 2000)
  --engine       memory (default) or redis: the fuzzed server's engine; redis starts its own redis-server`;

function flags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const [name, inline] = arg.split('=', 2);
    if (name === undefined || !name.startsWith('--'))
      throw new RangeError(`unexpected argument ${arg}\n${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new RangeError(`${name} needs a value\n${USAGE}`);
    out.set(name.slice(2), value);
  }
  for (const name of out.keys()) {
    if (!['seed', 'frames', 'concurrency', 'api-rounds', 'sse-frames', 'engine'].includes(name)) {
      throw new RangeError(`unknown flag --${name}\n${USAGE}`);
    }
  }
  return out;
}

function engineFlag(value: string | undefined): 'memory' | 'redis' {
  if (value === undefined || value === 'memory' || value === 'redis') return value ?? 'memory';
  console.error(`--engine must be memory or redis, not ${value}\n${USAGE}`);
  process.exit(2);
}

const given = flags(process.argv.slice(2));
const seed = intFlag('seed', given.get('seed'), Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
const frames = intFlag('frames', given.get('frames'), 100_000, 1, 10_000_000);
const options = {
  seed,
  frames,
  concurrency: intFlag('concurrency', given.get('concurrency'), 32, 1, 1000),
  apiRounds: intFlag('api-rounds', given.get('api-rounds'), 50, 0, 10_000),
  sseFrames: intFlag('sse-frames', given.get('sse-frames'), 2000, 0, 1_000_000),
  engine: engineFlag(given.get('engine')),
};
console.error(
  `fuzzing with seed ${seed} on the ${options.engine} engine: ${frames.toLocaleString('en-US')} protocol frames, then the HTTP API`,
);
let reported = 0;
const result = await runFuzz({
  ...options,
  onProgress: (sent) => {
    if (sent - reported < frames / 10) return;
    reported = sent;
    console.error(`  ${sent.toLocaleString('en-US')} frames sent`);
  },
});
console.log(formatSummary(result));
const ok = passed(result);
console.log(ok ? '\nPASS: nothing found' : `\nFAIL: see above; repeat with --seed ${seed}`);
process.exit(ok ? 0 : 1);
