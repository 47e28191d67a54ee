import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from './units.ts';

describe('parseDuration', () => {
  it.each([
    [1500, 1500],
    ['1500', 1500],
    ['500ms', 500],
    ['25s', 25_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1.5s', 1500],
    [' 5 s ', 5000],
    [0, 0],
  ])('reads %j as %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([[-1], [1.5], ['-5s'], ['5 minutes'], ['s'], [''], ['1e3'], ['10M'], [true], [null], [Infinity]])(
    'rejects %j',
    (input) => {
      expect(parseDuration(input)).toBeUndefined();
    },
  );
});

describe('parseSize', () => {
  it.each([
    [65536, 65536],
    ['65536', 65536],
    ['512B', 512],
    ['64KiB', 65536],
    ['64kib', 65536],
    ['4MiB', 4 * 1024 * 1024],
    ['1GiB', 1024 ** 3],
    ['64KB', 64_000],
    ['2MB', 2_000_000],
    ['1.5KiB', 1536],
  ])('reads %j as %d bytes', (input, expected) => {
    expect(parseSize(input)).toBe(expected);
  });

  it.each([[-1], [0.5], ['4 megabytes'], ['KiB'], ['-1KiB'], [{}]])('rejects %j', (input) => {
    expect(parseSize(input)).toBeUndefined();
  });
});
