/** The soak's flags (`npm run soak -- --help`), each bounded so that every loop they drive stays bounded. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { intFlag, numberFlag } from '../../bench/lib/args.ts';
import { REPO_ROOT } from '../../bench/lib/processes.ts';

export interface Settings {
  /** Minutes of load, warm-up included. */
  readonly minutes: number;
  /** Minutes of warm-up: not judged, ends with the first post-GC reading. */
  readonly warmupMinutes: number;
  readonly quick: boolean;
  readonly subscribers: number;
  readonly channels: number;
  /** Publications per second. */
  readonly rate: number;
  /** Bytes of JSON data per publication. */
  readonly payload: number;
  /** Subscribers dropped and reconnected per second. */
  readonly churn: number;
  /** Seconds between samples. */
  readonly sampleSeconds: number;
  /** Minutes between forced-GC readings after the warm-up. */
  readonly gcEveryMinutes: number;
  /** Where the CSV, the chart and latest.md go. */
  readonly out: string;
}

export const HELP = `npm run soak -- [flags]

Steady load on 2 Herald nodes + Redis for a while, sampling memory, event-loop lag and delivery lag;
fails when a publication is lost or duplicated, or when memory grows after the warm-up.

  --minutes N        minutes of load, warm-up included (default 30; --quick: 1)
  --warmup M         minutes of warm-up (default: 3, or a tenth of --minutes when that is less)
  --quick            a 1-minute smoke run, written to a temporary directory
  --subscribers N    WebSocket subscribers, half on each node (default 2000)
  --channels N       channels they are spread over (default 200)
  --rate N           publications per second over HTTP, to the nodes in turn (default 500)
  --payload N        bytes of JSON data per publication (default 100)
  --churn N          subscribers dropped and reconnected with 'since' per second (default 5)
  --sample S         seconds between samples (default 5)
  --gc-every M       minutes between forced-GC memory readings after the warm-up (default 5)
  --out DIR          where to write the CSV, the SVG and latest.md (default soak/results)
`;

/** Reads the flags; throws a RangeError for a bad one. `undefined` when --help was asked for. */
export function readSettings(argv: readonly string[]): Settings | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      minutes: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      subscribers: { type: 'string' },
      channels: { type: 'string' },
      rate: { type: 'string' },
      payload: { type: 'string' },
      churn: { type: 'string' },
      sample: { type: 'string' },
      'gc-every': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick;
  const minutes = numberFlag('minutes', values.minutes, quick ? 1 : 30, 0.5, 24 * 60);
  const warmupMinutes = numberFlag('warmup', values.warmup, Math.min(3, minutes / 10), 0, minutes / 2);
  return {
    minutes,
    warmupMinutes,
    quick,
    subscribers: intFlag('subscribers', values.subscribers, 2000, 2, 20_000),
    channels: intFlag('channels', values.channels, 200, 1, 10_000),
    rate: numberFlag('rate', values.rate, 500, 1, 20_000),
    payload: intFlag('payload', values.payload, 100, 40, 60_000),
    churn: numberFlag('churn', values.churn, 5, 0, 200),
    sampleSeconds: numberFlag('sample', values.sample, 5, 1, 60),
    gcEveryMinutes: numberFlag('gc-every', values['gc-every'], 5, 0.5, 60),
    out: values.out ?? (quick ? join(tmpdir(), 'herald-soak') : join(REPO_ROOT, 'soak', 'results')),
  };
}
