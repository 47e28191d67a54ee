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
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+/\\^$?()[\]{}|-]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (channel) => re.test(channel);
}

/** One matcher for a list of patterns: true when any of them matches. */
export function compilePatterns(patterns: readonly string[]): ChannelMatcher {
  const matchers = patterns.map(compilePattern);
  return (channel) => matchers.some((match) => match(channel));
}
