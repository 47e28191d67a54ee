/** The values the frame generator draws from: bad channel names, odd numbers, unknown methods, wrong values. */
import type { Rng } from './prng.ts';

export const INVALID_CHANNELS = [
  '',
  ' ',
  'bad channel!',
  'chat:*',
  'chat:\u0000',
  'chat:\ud800',
  'ü',
  '../../etc/passwd',
  'a'.repeat(256),
  'chat:a\n',
  '*',
];

export const NUMBER_TEXTS = [
  '1e308',
  '-1e308',
  '1e309',
  '9007199254740991',
  '9007199254740993',
  '123456789012345678901234567890',
  '-0',
  '0',
  '-1',
  '1.5',
  '1e-400',
  '1E2',
  '0.1e1',
  '00',
  '01',
  '-',
  '1e',
  'Infinity',
  'NaN',
  '0x10',
  '2e53',
  '4294967296',
  '-9007199254740992',
];

export const UNKNOWN_METHODS = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'PING',
  'Subscribe',
  'pub',
  '',
  ' ping',
  'presence-stats',
  'pong2',
  'result',
  'error',
  'push',
];

export const JSON_CHARS = '{}[]":,0123456789.-+eE truefalsn\\/u\n\t';

export const INVALID_UTF8_SEQUENCES = [
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

/** Values of every JSON type, most of them wrong wherever they are put. */
export function wrongValues(rng: Rng): unknown[] {
  return [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    'str',
    'x'.repeat(rng.range(1000, 20_000)),
    [],
    [1, 2],
    {},
    { a: 1 },
    { offset: -1, epoch: 5 },
    rng.unicode(10),
  ];
}

/** A random JSON value (as an object tree) of at most `depth` levels. */
export function jsonValue(rng: Rng, depth: number): unknown {
  const kind = rng.int(depth > 0 ? 8 : 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.25, 1e21, -1e-7, 2 ** 53, rng.int(1000)]);
    case 3:
      return rng.unicode(rng.range(0, 40));
    case 4:
      return rng.stringOf('abc xyz', rng.range(0, 20));
    case 5:
      return rng.int(100);
    case 6: {
      const out: unknown[] = [];
      for (let i = rng.int(5); i > 0; i--) out.push(jsonValue(rng, depth - 1));
      return out;
    }
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--)
        out[rng.stringOf('abcdef_$', rng.range(0, 6))] = jsonValue(rng, depth - 1);
      return out;
    }
  }
}
