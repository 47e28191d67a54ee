/**
 * Durations and sizes as people write them in configuration: `25s`, `10m`, `500ms`, `1h`, `2d` and
 * `64KiB`, `4MiB`, `1GB`. A bare number (or a string of digits, as environment variables are) means
 * milliseconds or bytes.
 */

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Binary units (KiB = 1024) and decimal ones (KB = 1000), as in IEC 80000-13. */
const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;

/** Milliseconds in `value`, or undefined when it is not a non-negative duration. */
export function parseDuration(value: unknown): number | undefined {
  return parseQuantity(value, DURATION, MS_PER_UNIT, 'ms');
}

/** Bytes in `value`, or undefined when it is not a non-negative size. */
export function parseSize(value: unknown): number | undefined {
  return parseQuantity(value, SIZE, BYTES_PER_UNIT, 'b');
}

function parseQuantity(
  value: unknown,
  pattern: RegExp,
  units: Readonly<Record<string, number>>,
  baseUnit: string,
): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = pattern.exec(value.trim());
  if (match === null) return undefined;
  const amount = Number(match[1]);
  const factor = units[(match[2] ?? baseUnit).toLowerCase()];
  if (factor === undefined) return undefined;
  const result = Math.round(amount * factor);
  return Number.isSafeInteger(result) ? result : undefined;
}
