/**
 * A recovery load process, driven over IPC by the `recovery` scenario (`bench/lib/load-process.ts`).
 * It opens subscribers (`open`), reports when each has received the first publications and so knows
 * its position (`status`), drops every connection at once while remembering the positions (`drop`),
 * and then reconnects them all at an agreed moment, each recovering what it missed (`reconnect`):
 * Herald subscribers resubscribe with `since`, Socket.IO clients reconnect with their session id and
 * last offset. Each client's time is from that moment to having every missed publication, and every
 * recovery is checked: the server said it recovered, and the publications are exactly the missed
 * ones, in order, without a gap or a duplicate.
 */
import { LatencyHistogram, type HistogramData } from '../lib/histogram.ts';
import { serveRequests } from '../lib/load-process.ts';
import { nowMs } from '../lib/messages.ts';
import { sleep } from '../lib/processes.ts';
import {
  SocketIoRecoveryClient,
  type SocketIoRecovery,
  type SocketIoSession,
} from './socketio-recovery-client.ts';
import { WireSubscriber, type RecoveryReply, type Sink } from './wire.ts';

export type RecoveryProtocol = 'herald' | 'socketio';

export interface RecoveryOpenRequest {
  readonly protocol: RecoveryProtocol;
  /** The server's base WebSocket URL. */
  readonly url: string;
  /** Herald: a connection token. */
  readonly token: string;
  /** One entry per client: the channel it subscribes to. */
  readonly channels: readonly string[];
  readonly localAddresses: readonly string[];
  /** Connections being opened at once (the first time; reconnecting opens them all at once). */
  readonly concurrency: number;
}

export interface RecoveryOpenResult {
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
}

export interface RecoveryStatus {
  readonly clients: number;
  /** Clients that have received at least the given number of publications and know their position. */
  readonly ready: number;
  /** Connections the server closed or broke. */
  readonly lost: number;
}

export interface ReconnectRequest {
  /** When to start reconnecting, ms since the epoch ({@link nowMs}): every process starts at once. */
  readonly startAt: number;
  /** Publications each client missed. */
  readonly missed: number;
  /** How long a client may take to recover before it counts as failed. */
  readonly timeoutMs: number;
}

export interface ReconnectReport {
  readonly clients: number;
  /** Clients that recovered exactly what they missed. */
  readonly recovered: number;
  readonly failed: number;
  readonly failureReasons: readonly string[];
  /** Per client (recovered ones), ms from `startAt` to having every missed publication. */
  readonly times: HistogramData;
  /** The slowest recovered client, ms from `startAt`. */
  readonly lastMs: number;
  /** Publications received by the clients that recovered. */
  readonly publications: number;
  /** How late this process started reconnecting (its own event-loop lag). */
  readonly lateStartMs: number;
  /** How long creating every connection took, synchronously, in this process. */
  readonly dialMs: number;
}

/** One client: how to reach it and, once dropped, where it was. */
interface Slot {
  readonly channel: string;
  readonly localAddress: string;
  herald?: WireSubscriber;
  socketio?: SocketIoRecoveryClient;
  /** Where it stood when dropped: the number of its last publication, and how to resume. */
  saved?: { readonly last: number; readonly herald?: HeraldSince; readonly socketio?: SocketIoSession };
}

interface HeraldSince {
  readonly offset: number;
  readonly epoch: string;
}

let request: RecoveryOpenRequest | undefined;
let slots: Slot[] = [];
let lost = 0;
const sink: Sink = { latency: () => undefined, lost: () => (lost += 1) };

async function open(given: RecoveryOpenRequest): Promise<RecoveryOpenResult> {
  request = given;
  slots = given.channels.map((channel, i) => ({
    channel,
    localAddress: given.localAddresses[i % given.localAddresses.length] ?? '127.0.0.1',
  }));
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < slots.length) {
      const slot = slots[next++] as Slot;
      try {
        await connect(given, slot, undefined, 30_000);
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, given.concurrency) }, worker));
  return { opened: slots.length - failed, failed, ...(firstError === undefined ? {} : { firstError }) };
}

/** Opens a slot's client, recovering from `saved` when given; resolves once subscribed or recovered. */
async function connect(
  given: RecoveryOpenRequest,
  slot: Slot,
  missed: number | undefined,
  timeoutMs: number,
): Promise<void> {
  const { url, protocol, token } = given;
  const { channel, localAddress, saved } = slot;
  if (protocol === 'herald') {
    const spec = {
      protocol,
      url,
      token,
      channel,
      localAddress,
      probe: false,
      trackPosition: true,
      since: saved?.herald,
    };
    slot.herald = await WireSubscriber.open(spec, sink, timeoutMs);
  } else {
    const spec = { url, channel, localAddress, resume: saved?.socketio, expected: missed ?? 0 };
    slot.socketio = await SocketIoRecoveryClient.open(spec, timeoutMs);
  }
}

function status(atLeast: number): RecoveryStatus {
  let ready = 0;
  for (const slot of slots) {
    const received = slot.herald?.delivered ?? slot.socketio?.received ?? 0;
    if (received >= atLeast && position(slot) !== undefined) ready += 1;
  }
  return { clients: slots.length, ready, lost };
}

function position(slot: Slot): Slot['saved'] {
  const herald = slot.herald?.position;
  if (herald !== undefined) return { last: herald.offset, herald };
  const socketio = slot.socketio?.session;
  if (socketio !== undefined) return { last: socketio.seq, socketio };
  return undefined;
}

/** Remembers every client's position and drops its connection (no close handshake). */
function drop(): number {
  let saved = 0;
  for (const slot of slots) {
    const at = position(slot);
    if (at !== undefined) {
      slot.saved = at;
      saved += 1;
    }
    slot.herald?.close();
    slot.socketio?.close();
    delete slot.herald;
    delete slot.socketio;
  }
  return saved;
}

async function reconnect(options: ReconnectRequest): Promise<ReconnectReport> {
  const given = request;
  if (given === undefined) throw new Error('reconnect before open');
  await sleep(Math.max(0, options.startAt - nowMs()));
  const started = nowMs();
  const done = new Map<Slot, number>();
  const failures = new Map<Slot, string>();
  const attempts = slots.map((slot) => {
    if (slot.saved === undefined) {
      failures.set(slot, 'no position to recover from');
      return Promise.resolve();
    }
    return connect(given, slot, options.missed, options.timeoutMs).then(
      () => void done.set(slot, nowMs()),
      (error: unknown) => void failures.set(slot, error instanceof Error ? error.message : String(error)),
    );
  });
  const dialMs = nowMs() - started;
  await Promise.all(attempts);
  const times = new LatencyHistogram();
  let lastMs = 0;
  let publications = 0;
  for (const [slot, at] of done) {
    const problem = check(slot, options.missed);
    if (problem !== undefined) {
      failures.set(slot, problem);
      continue;
    }
    const ms = at - options.startAt;
    times.record(ms);
    lastMs = Math.max(lastMs, ms);
    publications += options.missed;
  }
  return {
    clients: slots.length,
    recovered: slots.length - failures.size,
    failed: failures.size,
    failureReasons: [...new Set(failures.values())].slice(0, 5),
    times: times.export(),
    lastMs,
    publications,
    lateStartMs: started - options.startAt,
    dialMs,
  };
}

/** Why a client's recovery is wrong, or undefined when it got exactly the publications it missed. */
function check(slot: Slot, missed: number): string | undefined {
  const from = slot.saved?.last ?? NaN;
  const herald = slot.herald;
  // Both say the same things, each in its own numbering (Herald offsets, Socket.IO `n`).
  let got: RecoveryReply | SocketIoRecovery | undefined = slot.socketio?.recovery;
  if (herald !== undefined) {
    got = herald.recovery;
    if (herald.position?.epoch !== slot.saved?.herald?.epoch) return 'the epoch changed';
  }
  if (got === undefined) return 'no subscribe reply';
  if (!got.recovered) return 'the server did not recover the position';
  if (got.count !== missed) return `${got.count} publications instead of ${missed}`;
  if (!got.contiguous || got.first !== from + 1 || got.last !== from + missed)
    return `publications ${got.first}..${got.last} after ${from}, ${got.contiguous ? 'in' : 'out of'} order`;
  return undefined;
}

serveRequests({
  open: (args) => open(args as RecoveryOpenRequest),
  status: (args) => status(args as number),
  drop: () => drop(),
  reconnect: (args) => reconnect(args as ReconnectRequest),
});
