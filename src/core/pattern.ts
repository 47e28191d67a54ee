/**
 * Channel patterns, as used in a token's `channels` claim and in channel listings: a channel name in
 * which `*` stands for any run of characters (including none). `chat:*` matches every channel of
 * the `chat` namespace; a pattern without `*` matches exactly one channel.
 */
import { HeraldError } from './errors.ts';

const PATTERN_CHARS = /^[A-Za-z0-9_\-.:@=/+*]{1,255}$/;

export type ChannelMatcher = (channel: string) => boolean;

export function isValidPattern(pattern: string): boolean {
  return PATTERN_CHARS.test(pattern);
}

export function compilePattern(pattern: string): ChannelMatcher {
  if (!isValidPattern(pattern)) {
    throw new HeraldError('HERALD_ERR_BAD_REQUEST', `invalid channel pattern ${JSON.stringify(pattern)}`);
  }
  if (!pattern.includes('*')) return (channel) => channel === pattern;
  const parts = pattern.split('*');
  return (channel) => globMatch(parts, channel);
}

/**
 * Matches `channel` against a pattern split on `*`, in linear time: the first part must start the
 * channel, the last must end it, and the parts between are found left to right. (A regular expression
 * with several `.*` backtracks: a hostile channel name could stall the event loop for seconds.)
 */
function globMatch(parts: readonly string[], channel: string): boolean {
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (channel.length < first.length + last.length) return false;
  if (!channel.startsWith(first) || !channel.endsWith(last)) return false;
  let at = first.length;
  const end = channel.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? '';
    const found = channel.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** One matcher for a list of patterns: true when any of them matches. */
export function compilePatterns(patterns: readonly string[]): ChannelMatcher {
  const matchers = patterns.map(compilePattern);
  return (channel) => matchers.some((match) => match(channel));
}
