import { describe, expect, it } from 'vitest';
import { assertChannel, channelNameProblem, isReservedChannel, namespaceOf } from './channel.ts';
import { compilePattern, compilePatterns } from './pattern.ts';
import { HeraldError } from './errors.ts';

describe('channel names', () => {
  it.each(['chat:room-42', 'a', 'user@example.com', 'x/y/z', 'ns:a:b', 'k=v+1', 'a'.repeat(255)])(
    'accepts %s',
    (name) => {
      expect(channelNameProblem(name)).toBeUndefined();
    },
  );

  it.each([
    ['', /empty/],
    ['a'.repeat(256), /longer than 255/],
    ['chat room', /" " at 4/],
    ['chat:*', /"\*" at 5/],
    ['$$herald:x', /"\$" at 1/],
    ['a$b', /"\$" at 1/],
    ['ünïcode', /at 0/],
  ])('rejects %j', (name, problem) => {
    expect(channelNameProblem(name)).toMatch(problem);
  });

  it("accepts a leading $ for Herald's own channels, and tells them apart", () => {
    expect(channelNameProblem('$herald:stats')).toBeUndefined();
    expect(isReservedChannel('$herald:stats')).toBe(true);
    expect(isReservedChannel('herald:stats')).toBe(false);
  });

  it('throws a HeraldError with the invalid-channel code', () => {
    expect(() => assertChannel(42)).toThrow(HeraldError);
    try {
      assertChannel('bad name');
    } catch (err) {
      expect((err as HeraldError).code).toBe('HERALD_ERR_INVALID_CHANNEL');
      expect((err as HeraldError).wireCode).toBe(107);
    }
  });

  it('takes the namespace from before the first colon', () => {
    expect(namespaceOf('chat:room:1')).toBe('chat');
    expect(namespaceOf('lobby')).toBe('');
  });
});

describe('channel patterns', () => {
  it('matches with * as any run of characters', () => {
    const match = compilePattern('chat:team-*');
    expect(match('chat:team-1')).toBe(true);
    expect(match('chat:team-')).toBe(true);
    expect(match('chat:other')).toBe(false);
    expect(compilePattern('a.b')('axb')).toBe(false);
    expect(compilePattern('*')('anything:at:all')).toBe(true);
  });

  it('combines patterns', () => {
    const match = compilePatterns(['news', 'chat:*']);
    expect(match('news')).toBe(true);
    expect(match('newsx')).toBe(false);
    expect(match('chat:x')).toBe(true);
  });

  it('rejects patterns with characters outside the channel alphabet', () => {
    expect(() => compilePattern('chat:(.*)')).toThrow(/invalid channel pattern/);
  });
});

describe('channel pattern matching cost', () => {
  it('stays linear for patterns with many stars against hostile names', () => {
    const match = compilePattern('*a*a*a*a*a*a*a*a*a*a*b');
    // A backtracking regular expression runs for minutes on these; the glob matcher is linear.
    expect(match('a'.repeat(250))).toBe(false);
    expect(match(`${'a'.repeat(240)}b`)).toBe(true);
  });

  it('matches parts in order without overlapping the suffix', () => {
    expect(compilePattern('a*ab')('ab')).toBe(false);
    expect(compilePattern('a*ab')('aab')).toBe(true);
    expect(compilePattern('*-*-end')('x-y-end')).toBe(true);
    expect(compilePattern('*-*-end')('x-end')).toBe(false);
  });
});
