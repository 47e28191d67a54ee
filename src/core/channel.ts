/**
 * Channel naming rules, applied everywhere a channel name enters Herald (protocol, API, CLI).
 * A name is 1–255 characters from `A–Z a–z 0–9 _ - . : @ = / +`. The part before the first `:` is the
 * namespace (none: the channel belongs to the default namespace ""). Names starting with `$` are
 * reserved for Herald's own channels; `*` is reserved for patterns.
 */
import { HeraldError } from './errors.ts';

export const CHANNEL_MAX_LENGTH = 255;
// A leading `$` marks Herald's own channels: valid names, which permissions keep to the dashboard.
const CHANNEL_CHARS = /^\$?[A-Za-z0-9_\-.:@=/+]+$/;
const BAD_CHAR = /[^A-Za-z0-9_\-.:@=/+]/;

/** Returns why `name` is not a valid channel name, or undefined if it is. */
export function channelNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'channel must be a string';
  if (name.length === 0) return 'channel must not be empty';
  if (name.length > CHANNEL_MAX_LENGTH) return `channel is longer than ${CHANNEL_MAX_LENGTH} characters`;
  if (CHANNEL_CHARS.test(name)) return undefined;
  const bad = BAD_CHAR.exec(name.startsWith('$') ? name.slice(1) : name);
  const at = (bad?.index ?? 0) + (name.startsWith('$') ? 1 : 0);
  return `channel has a character that is not allowed (${JSON.stringify(bad?.[0] ?? '')} at ${at}); allowed: A-Z a-z 0-9 _ - . : @ = / +`;
}

/** Throws HERALD_ERR_INVALID_CHANNEL unless `name` is a valid channel name. */
export function assertChannel(name: unknown): asserts name is string {
  const problem = channelNameProblem(name);
  if (problem !== undefined) throw new HeraldError('HERALD_ERR_INVALID_CHANNEL', problem);
}

/** The namespace of a channel: the part before the first `:`, or "" when there is none. */
export function namespaceOf(channel: string): string {
  const colon = channel.indexOf(':');
  return colon === -1 ? '' : channel.slice(0, colon);
}

/** Whether `name` is one of Herald's own channels (`$herald:stats`), which only the dashboard reads. */
export function isReservedChannel(name: string): boolean {
  return name.startsWith('$');
}
