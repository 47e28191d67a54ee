import { describe, expect, it } from 'vitest';
import type { Publication, StreamPosition } from '../core/publication.ts';
import type { HistoryResult } from '../engine/broker.ts';
import { ChannelStreams } from './channel-streams.ts';

const CHANNEL = 'chat:a';

function pub(offset: number, epoch = 'e1'): Publication {
  return { channel: CHANNEL, offset, epoch, data: String(offset), time: 0 };
}

/**
 * A channel's history as the engine holds it, with reads that can be held open to interleave live
 * publications, and a log of what the streams passed on and reported.
 */
function harness(options: { historySize?: number } = {}) {
  let history: Publication[] = [];
  let position: StreamPosition = { offset: 0, epoch: 'e1' };
  let failReads = false;
  let gate: Promise<void> | undefined;
  const reads: (number | undefined)[] = [];
  const delivered: number[] = [];
  const events: string[] = [];
  const size = options.historySize ?? 100;
  const streams = new ChannelStreams({
    async read(_channel, sinceOffset): Promise<HistoryResult> {
      reads.push(sinceOffset);
      // Like the engine, the read sees the history as it is when it runs.
      const snapshot = { history: [...history], position };
      if (gate !== undefined) await gate;
      if (failReads) throw new Error('engine unreachable');
      const publications =
        sinceOffset === undefined
          ? []
          : snapshot.history.filter((p) => p.offset > sinceOffset).slice(0, size);
      return { publications, position: snapshot.position };
    },
    deliver: (publication) => delivered.push(publication.offset),
    onRewound: (_channel, at) => events.push(`rewound ${at.epoch}:${at.offset}`),
    onEpochLost: (_channel, at) => events.push(`epoch lost ${at.epoch}:${at.offset}`),
    onUnrepairable: (_channel, at) => events.push(`unrepairable ${at.epoch}:${at.offset}`),
    onDeaf: () => events.push('deaf'),
  });
  streams.open(CHANNEL);
  return {
    streams,
    reads,
    delivered,
    events,
    /** Publishes in the engine; returns the publication (not delivered live unless passed to receive). */
    publish(epoch = position.epoch): Publication {
      if (epoch !== position.epoch) {
        history = [];
        position = { offset: 0, epoch };
      }
      const publication = pub(position.offset + 1, epoch);
      position = { offset: publication.offset, epoch };
      history.push(publication);
      history = history.slice(-size);
      return publication;
    },
    /** Replaces the engine's state, as a failover that lost writes would. */
    reset(to: StreamPosition, kept: Publication[]) {
      position = to;
      history = kept;
    },
    expireHistory: () => (history = []),
    failReads: (value: boolean) => (failReads = value),
    /** Holds reads until the returned function is called. */
    holdReads(): () => void {
      let release: () => void = () => undefined;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A check while the channel has had live traffic does nothing but note it; the next one looks. */
async function goQuiet(h: ReturnType<typeof harness>): Promise<void> {
  await h.streams.check(CHANNEL);
}

describe('ChannelStreams', () => {
  it('passes a continuous live stream on as it is', () => {
    const h = harness();
    for (let i = 0; i < 5; i++) h.streams.receive(h.publish());
    expect(h.delivered).toEqual([1, 2, 3, 4, 5]);
    expect(h.reads).toEqual([]);
  });

  it('fills a gap from the history, then passes on the live publications held meanwhile', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.publish(); // 2 and 3 never arrive live
    h.publish();
    const release = h.holdReads();
    h.streams.receive(h.publish()); // 4 reveals the gap
    h.streams.receive(h.publish()); // 5 arrives during the repair
    expect(h.delivered).toEqual([1]);
    release();
    await settle();
    expect(h.reads).toEqual([1]);
    expect(h.delivered).toEqual([1, 2, 3, 4, 5]);
    h.streams.receive(h.publish());
    expect(h.delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('drops live copies of publications a repair already passed on', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    await goQuiet(h);
    const late = [h.publish(), h.publish()];
    await h.streams.check(CHANNEL);
    expect(h.delivered).toEqual([1, 2, 3]);
    for (const publication of late) h.streams.receive(publication);
    expect(h.delivered).toEqual([1, 2, 3]);
    // Seen from the node, nothing arrived live while the history grew: it renews its subscription.
    expect(h.events).toEqual(['deaf']);
  });

  it('notices a gap before the first live publication once seeded with a position', async () => {
    const h = harness();
    h.publish();
    h.streams.seed(CHANNEL, { offset: 1, epoch: 'e1' });
    h.publish();
    h.streams.receive(h.publish());
    await settle();
    expect(h.delivered).toEqual([2, 3]);
  });

  it('passes on what the history still has when it no longer covers the gap, once', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.publish();
    h.expireHistory();
    h.streams.receive(h.publish());
    await settle();
    expect(h.reads).toEqual([1]);
    // The jump from 1 to 3 reaches the subscribers, which recover on their own.
    expect(h.delivered).toEqual([1, 3]);
    h.streams.receive(h.publish());
    expect(h.delivered).toEqual([1, 3, 4]);
  });

  it('reports a lost last publication the history no longer holds, found by a check', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    await goQuiet(h);
    h.publish();
    h.expireHistory();
    expect(await h.streams.check(CHANNEL)).toBe(true);
    expect(h.events).toEqual(['unrepairable e1:2', 'deaf']);
    await h.streams.check(CHANNEL);
    expect(h.events).toHaveLength(2);
  });

  it('passes the gap on when the engine cannot be read, without retrying in a loop', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.publish();
    h.failReads(true);
    h.streams.receive(h.publish());
    await settle();
    expect(h.reads).toHaveLength(1);
    expect(h.delivered).toEqual([1, 3]);
    await goQuiet(h);
    expect(await h.streams.check(CHANNEL)).toBe(false);
  });

  it('reports a rewound history when a live offset repeats, and passes nothing of it on', () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.streams.receive(h.publish());
    h.streams.receive(h.publish());
    h.reset({ offset: 1, epoch: 'e1' }, [pub(1)]);
    h.streams.receive(h.publish()); // offset 2 again, different data
    expect(h.events).toEqual(['rewound e1:2']);
    expect(h.delivered).toEqual([1, 2, 3]);
    // The stream starts over with whatever comes next.
    h.streams.receive(h.publish());
    expect(h.delivered).toEqual([1, 2, 3, 3]);
  });

  it('reports a rewound history when a check finds the engine behind', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.streams.receive(h.publish());
    await goQuiet(h);
    h.reset({ offset: 1, epoch: 'e1' }, [pub(1)]);
    await h.streams.check(CHANNEL);
    expect(h.events).toEqual(['rewound e1:1']);
  });

  it('reports a lost epoch found by a check and reads the new epoch from its start', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    await goQuiet(h);
    h.reset({ offset: 0, epoch: 'e2' }, []);
    h.publish('e2'); // the new epoch's first two publications never arrive live
    h.publish('e2');
    await h.streams.check(CHANNEL);
    expect(h.events).toEqual(['epoch lost e2:2']);
    expect(h.reads).toEqual([1, 0]);
    expect(h.delivered).toEqual([1, 1, 2]);
    h.streams.receive(h.publish('e2'));
    expect(h.delivered).toEqual([1, 1, 2, 3]);
  });

  it('reads a new epoch seen live from its start when its first publications were missed', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.publish('e2');
    h.streams.receive(h.publish('e2'));
    await settle();
    expect(h.delivered).toEqual([1, 1, 2]);
  });

  it('drops publications of an epoch the stream has left, still in flight', () => {
    const h = harness();
    h.streams.receive(h.publish());
    const stale = h.publish();
    h.streams.receive(h.publish('e2'));
    h.streams.receive(stale);
    expect(h.delivered).toEqual([1, 1]);
    expect(h.events).toEqual([]);
  });

  it('passes a new epoch seen live on for the subscribers to judge', () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.streams.receive(h.publish('e2'));
    h.streams.receive(h.publish());
    expect(h.delivered).toEqual([1, 1, 2]);
    expect(h.events).toEqual([]);
  });

  it('does nothing when a check finds the stream up to date, or ignores a check that raced a repair', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    await goQuiet(h);
    await h.streams.check(CHANNEL);
    expect(h.delivered).toEqual([1]);
    h.publish();
    const release = h.holdReads();
    h.streams.receive(h.publish());
    const check = h.streams.check(CHANNEL); // a repair is running: nothing to do
    release();
    await check;
    await settle();
    expect(h.delivered).toEqual([1, 2, 3]);
    expect(h.reads).toEqual([1, 1]);
  });

  it('leaves a channel with live traffic to its gap detection, however far ahead the engine is', async () => {
    const h = harness({ historySize: 5 });
    h.streams.receive(h.publish());
    // Twenty publications in flight to this node: more than the history holds.
    const inFlight = Array.from({ length: 20 }, () => h.publish());
    await h.streams.check(CHANNEL);
    for (const publication of inFlight) h.streams.receive(publication);
    expect(h.reads).toEqual([]);
    expect(h.delivered).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('stops a repair of a channel closed meanwhile', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    h.publish();
    const release = h.holdReads();
    h.streams.receive(h.publish());
    h.streams.close(CHANNEL);
    release();
    await settle();
    expect(h.delivered).toEqual([1]);
  });

  it('reports a subscription that hears nothing while the history fills', async () => {
    const h = harness();
    h.streams.receive(h.publish());
    await goQuiet(h);
    h.publish();
    await h.streams.check(CHANNEL);
    expect(h.delivered).toEqual([1, 2]);
    expect(h.events).toEqual(['deaf']);
  });

  it('passes publications of channels it does not follow straight through', () => {
    const h = harness();
    h.streams.close(CHANNEL);
    h.streams.receive(pub(7));
    h.streams.receive(pub(3));
    expect(h.delivered).toEqual([7, 3]);
  });
});
