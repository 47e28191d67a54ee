import { describe, expect, it } from 'vitest';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { FrameCache, textFrame } from './websocket-frame.ts';

/** ws's frame parser (exported at runtime, not in its type declarations). */
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean }) => EventEmitter & { write(chunk: Buffer): void };
};

/** Parses frames with ws's own receiver: what a real client would read. */
function parse(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) =>
      isBinary ? reject(new Error('binary')) : resolve(data.toString()),
    );
    receiver.on('error', reject);
    receiver.write(frame);
  });
}

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])(
    'frames a %i-byte payload that a WebSocket receiver reads back unchanged',
    async (length) => {
      const text = 'é'.repeat(Math.floor(length / 2)) + 'x'.repeat(length % 2);
      const payload = Buffer.from(text);
      expect(payload.length).toBe(length);
      await expect(parse(textFrame(payload))).resolves.toBe(text);
    },
  );

  it('uses the shortest length encoding', () => {
    expect(textFrame(Buffer.alloc(125)).length).toBe(127);
    expect(textFrame(Buffer.alloc(126)).length).toBe(130);
    expect(textFrame(Buffer.alloc(65_536)).length).toBe(65_546);
  });
});

describe('FrameCache', () => {
  it('frames each payload object once', () => {
    const cache = new FrameCache();
    const payload = Buffer.from('{"push":{}}');
    const frame = cache.frameOf(payload);
    expect(cache.frameOf(payload)).toBe(frame);
    expect(cache.frameOf(Buffer.from('{"push":{}}'))).not.toBe(frame);
  });
});
