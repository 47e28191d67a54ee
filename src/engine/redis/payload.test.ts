import { describe, expect, it } from 'vitest';
import { decodeMessage, decodePresenceEvent, encodePresenceEvent, encodeTail } from './payload.ts';

const info = { client: 'c1', user: 'u1', info: { note: 'line\nbreak' } };

describe('payload', () => {
  it('decodes a message of one publication and one of several joined by line feeds, in order', () => {
    const one = `7\tEp\t${encodeTail(1000, undefined, '{"a":"x\\ny"}')}`;
    expect(decodeMessage('ch', one)).toEqual([
      { channel: 'ch', offset: 7, epoch: 'Ep', time: 1000, data: '{"a":"x\\ny"}' },
    ]);
    const tails = [
      encodeTail(1, info, '1'),
      encodeTail(2, undefined, '"two"'),
      encodeTail(3, undefined, 'null'),
    ];
    const message = tails.map((tail, i) => `${i + 8}\tEp\t${tail}`).join('\n');
    expect(decodeMessage('ch', message)).toEqual([
      { channel: 'ch', offset: 8, epoch: 'Ep', time: 1, data: '1', info },
      { channel: 'ch', offset: 9, epoch: 'Ep', time: 2, data: '"two"' },
      { channel: 'ch', offset: 10, epoch: 'Ep', time: 3, data: 'null' },
    ]);
  });

  it('writes no raw line feed: info is escaped, and one between JSON tokens becomes a space', () => {
    expect(encodeTail(1, info, '{\n"a": [1,\n2]\n}')).not.toContain('\n');
    const [publication] = decodeMessage('ch', `1\tEp\t${encodeTail(1, info, '{\n"a": [1,\n2]\n}')}`);
    expect(JSON.parse(publication?.data ?? '')).toEqual({ a: [1, 2] });
    expect(publication?.info).toEqual(info);
  });

  it('skips what is not a payload', () => {
    expect(decodeMessage('ch', 'garbage')).toEqual([]);
    expect(decodeMessage('ch', `garbage\n1\tEp\t${encodeTail(5, undefined, '1')}`)).toHaveLength(1);
  });
});

describe('presence events', () => {
  it('round-trips and is never taken for publications', () => {
    const event = {
      type: 'leave' as const,
      entry: { client: 'c1', user: 'ann', info: { note: 'tab\tand\nline' } },
    };
    const message = encodePresenceEvent(event);
    expect(decodePresenceEvent(message)).toEqual(event);
    expect(decodePresenceEvent('1\tepoch\t0\t\t{}')).toBeUndefined();
    expect(decodeMessage('ch', message)).toEqual([]);
  });
});
