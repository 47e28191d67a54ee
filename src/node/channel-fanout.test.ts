import { describe, expect, it } from 'vitest';
import type { Publication } from '../core/publication.ts';
import { ChannelFanOut, spanOf, type PublicationRun, type RunSubscriber } from './channel-fanout.ts';
import { FlushScheduler } from './flush-scheduler.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

function publication(channel: string, offset: number, epoch = 'e1'): Publication {
  return { channel, offset, epoch, data: `{"n":${offset}}`, time: 0 };
}

class Recorder implements RunSubscriber {
  readonly runs: PublicationRun[] = [];
  deliverRun(run: PublicationRun): void {
    this.runs.push(run);
  }
}

function setup(subscribers: Map<string, Set<Recorder>>) {
  const scheduler = new FlushScheduler();
  let encoded = 0;
  const fanOut = new ChannelFanOut<Recorder>({
    scheduler,
    subscribers: (channel) => subscribers.get(channel),
    encode: (p) => {
      encoded += 1;
      return Buffer.from(`push ${p.channel} ${p.offset}`);
    },
  });
  return { fanOut, encoded: () => encoded };
}

describe('ChannelFanOut', () => {
  it("hands each channel's publications of a turn to every subscriber as one run, joined once", async () => {
    const [a, b, c] = [new Recorder(), new Recorder(), new Recorder()];
    const { fanOut, encoded } = setup(
      new Map([
        ['x', new Set([a, b])],
        ['y', new Set([c])],
      ]),
    );
    fanOut.queue(publication('x', 1));
    fanOut.queue(publication('y', 7));
    fanOut.queue(publication('x', 2));
    expect(a.runs).toEqual([]);
    await turn();
    expect(encoded()).toBe(3);
    expect(a.runs).toHaveLength(1);
    expect(b.runs[0]).toBe(a.runs[0]);
    expect(String(a.runs[0]?.joined)).toBe('push x 1\npush x 2');
    expect(a.runs[0]?.span).toEqual({ epoch: 'e1', first: 1, last: 2 });
    expect(c.runs.map((run) => String(run.joined))).toEqual(['push y 7']);

    fanOut.queue(publication('x', 3));
    await turn();
    expect(a.runs.map((run) => String(run.joined))).toEqual(['push x 1\npush x 2', 'push x 3']);
  });

  it('encodes nothing for a channel without local subscribers', async () => {
    const { fanOut, encoded } = setup(new Map());
    fanOut.queue(publication('x', 1));
    await turn();
    expect(encoded()).toBe(0);
  });

  it('hands over one channel at once on request, and not again when the turn ends', async () => {
    const [a, b] = [new Recorder(), new Recorder()];
    const { fanOut } = setup(
      new Map([
        ['x', new Set([a])],
        ['y', new Set([b])],
      ]),
    );
    fanOut.queue(publication('x', 1));
    fanOut.queue(publication('y', 1));
    fanOut.flushChannel('x');
    expect(a.runs).toHaveLength(1);
    expect(b.runs).toHaveLength(0);
    await turn();
    expect(a.runs).toHaveLength(1);
    expect(b.runs).toHaveLength(1);
  });
});

describe('spanOf', () => {
  it('covers consecutive offsets of one epoch', () => {
    expect(spanOf([publication('x', 4), publication('x', 5)])).toEqual({ epoch: 'e1', first: 4, last: 5 });
  });

  it('is undefined for a gap, an epoch change, or publications without history', () => {
    expect(spanOf([publication('x', 4), publication('x', 6)])).toBeUndefined();
    expect(spanOf([publication('x', 4), publication('x', 5, 'e2')])).toBeUndefined();
    expect(spanOf([publication('x', 0, '')])).toBeUndefined();
  });
});
