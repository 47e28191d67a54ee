/** Reading numeric flags with bounds, so that every loop a flag drives stays bounded. */

/** A number flag (`--seconds 2.5`), or `fallback` when not given; throws outside [min, max]. */
export function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < min || number > max)
    throw new RangeError(`--${name} must be a number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  return number;
}

/** Like {@link numberFlag} for whole numbers. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const number = numberFlag(name, value, fallback, min, max);
  if (!Number.isInteger(number))
    throw new RangeError(`--${name} must be a whole number; got ${JSON.stringify(value)}`);
  return number;
}

/** A comma-separated list of whole numbers (`--rates 500,2000`), each in [min, max]; at most 16. */
export function intListFlag(
  name: string,
  value: string | undefined,
  fallback: readonly number[],
  min: number,
  max: number,
): number[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((item) => intFlag(name, item.trim(), 0, min, max));
  if (items.length === 0 || items.length > 16)
    throw new RangeError(`--${name} takes 1 to 16 comma-separated numbers`);
  return items;
}

const SYSTEM_NAMES = ['herald', 'socket.io', 'ws-frame', 'ws-batch'] as const;
type System = (typeof SYSTEM_NAMES)[number];

/** `--systems herald,socket.io`: which systems a comparison runs, in the order given. */
export function systemsFlag(value: string | undefined, fallback: readonly System[]): System[] {
  if (value === undefined) return [...fallback];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names)
    if (!(SYSTEM_NAMES as readonly string[]).includes(name))
      throw new RangeError(`--systems takes ${SYSTEM_NAMES.join(', ')}; got ${JSON.stringify(name)}`);
  return [...new Set(names as System[])];
}
