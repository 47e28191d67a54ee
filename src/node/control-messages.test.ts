import { describe, expect, it } from 'vitest';
import { decodeControl, encodeControl, type ControlMessage } from './control-messages.ts';
import { NodeRegistry } from './node-registry.ts';

const node = {
  id: 'n1',
  name: 'herald-1',
  version: '0.1.0',
  engine: 'redis',
  uptime: 10,
  connections: 1,
  subscriptions: 2,
  channels: 1,
};

describe('control messages', () => {
  it('round-trips every kind', () => {
    const messages: ControlMessage[] = [
      { type: 'node', node, ttl: 6000 },
      { type: 'leave', node: 'n1' },
      { type: 'survey', id: 's1', from: 'n1', request: { op: 'channels', pattern: 'chat:*' } },
      {
        type: 'survey',
        id: 's2',
        from: 'n1',
        request: { op: 'disconnect', target: { user: 'u' }, reconnect: true },
      },
      { type: 'reply', id: 's1', from: 'n2', to: 'n1', result: { channels: [], truncated: false } },
    ];
    for (const message of messages) expect(decodeControl(encodeControl(message))).toEqual(message);
  });

  it.each([
    ['not JSON', '{oops'],
    ['not an object', '42'],
    ['an unknown type', '{"type":"reboot","node":"n1"}'],
    ['a node without fields', '{"type":"node","node":{"id":"n1"},"ttl":6000}'],
    ['a ttl that is not a number', JSON.stringify({ type: 'node', node, ttl: 'forever' })],
    ['an unknown survey', '{"type":"survey","id":"s","from":"n","request":{"op":"shutdown"}}'],
    [
      'a disconnect without a target',
      '{"type":"survey","id":"s","from":"n","request":{"op":"disconnect","reconnect":true}}',
    ],
    ['a reply without an addressee', '{"type":"reply","id":"s","from":"n","result":1}'],
  ])('ignores %s', (_what, text) => {
    expect(decodeControl(text)).toBeUndefined();
  });
});

describe('NodeRegistry', () => {
  it('lists a node until its announcement expires, with its uptime brought forward', () => {
    const registry = new NodeRegistry();
    expect(registry.update(node, 6000, 1_000)).toBe(true);
    expect(registry.update(node, 6000, 3_000)).toBe(false);
    expect(registry.nodes(5_000)).toEqual([{ ...node, uptime: 12 }]);
    expect(registry.nodes(9_000)).toEqual([]);
    expect(registry.update(node, 6000, 9_500)).toBe(true);
  });

  it('forgets a node that leaves', () => {
    const registry = new NodeRegistry();
    registry.update(node, 6000, 0);
    registry.remove('n1');
    expect(registry.ids(1)).toEqual(new Set());
  });
});
