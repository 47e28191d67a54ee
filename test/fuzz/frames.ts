/**
 * The protocol fuzzer's frame generator. Each connection gets a script of frames drawn from its own
 * seeded stream (`deriveSeed(seed, index)`), so connection N of a seed always sends the same frames,
 * whatever the server answered and however the connections interleaved.
 *
 * Valid commands are mixed with hostile ones so that stateful paths (connect, subscribe with and
 * without recovery, publish, history, presence, refresh, unsubscribe, ping) run between the attacks.
 * A script ends early with a frame that must close the connection (binary, oversized, invalid UTF-8,
 * a flood of commands); the frame says which close code it must cause.
 */
import { isUtf8 } from 'node:buffer';
import { DisconnectCode } from '@herald/protocol';
import { deriveSeed, Rng } from './prng.ts';
import {
  INVALID_CHANNELS,
  INVALID_UTF8_SEQUENCES,
  JSON_CHARS,
  jsonValue,
  NUMBER_TEXTS,
  UNKNOWN_METHODS,
  wrongValues,
} from './frame-values.ts';
import { WS_INVALID_PAYLOAD, WS_MESSAGE_TOO_BIG } from './raw-connections.ts';
import { BAD_CONNECT_TOKENS, FUZZ_CHANNELS, GOOD_CONNECT_TOKENS } from './scenario.ts';

export const FRAME_KINDS = [
  'valid',
  'out-of-order',
  'multi',
  'random-text',
  'truncated',
  'malformed',
  'wrong-type',
  'huge-number',
  'deep',
  'unknown-command',
  'special-string',
  'pong',
  'empty',
  'at-limit',
  'flood',
  'binary',
  'oversized',
  'invalid-utf8',
] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

export interface Frame {
  readonly kind: FrameKind;
  /** Text (may hold `{{token:NAME}}` and `{{epoch:CHANNEL}}` placeholders), or raw bytes. */
  readonly payload: string | Buffer;
  /** Sent as a binary frame. */
  readonly binary: boolean;
  /** The close code this frame must cause; such a frame is the last of its script. */
  readonly closes?: number;
}

/** How a connection reaches the server. */
export type ConnectionPlan = 'websocket' | 'raw-framing' | 'handshake';

export interface GeneratorOptions {
  /** The server's frame limit (maxFrameBytes). */
  readonly maxFrameBytes: number;
  /** Longest script, in frames. Default 250. */
  readonly maxFrames?: number;
}

/** More messages than this queued at once close the connection (3501). */
const MAX_QUEUED_COMMANDS = 1024;

const KIND_WEIGHTS: readonly (readonly [FrameKind, number])[] = [
  ['valid', 30],
  ['out-of-order', 6],
  ['multi', 8],
  ['random-text', 5],
  ['truncated', 6],
  ['malformed', 6],
  ['wrong-type', 10],
  ['huge-number', 5],
  ['deep', 2],
  ['unknown-command', 4],
  ['special-string', 5],
  ['pong', 2],
  ['empty', 1],
  ['at-limit', 0.3],
  ['flood', 0.3],
  ['binary', 0.6],
  ['oversized', 0.4],
  ['invalid-utf8', 0.6],
];

const METHODS = [
  'subscribe',
  'unsubscribe',
  'publish',
  'history',
  'presence',
  'presence_stats',
  'refresh',
  'ping',
] as const;
type Method = (typeof METHODS)[number];

/** Whether a connection is scripted as WebSocket frames, raw malformed framing or a bad handshake. */
export function connectionPlan(seed: number, index: number): ConnectionPlan {
  const rng = new Rng(deriveSeed(seed, index) ^ 0x5bd1e995);
  return rng.weighted<ConnectionPlan>([
    ['websocket', 96],
    ['raw-framing', 3],
    ['handshake', 1],
  ]);
}

/** The frames of one WebSocket connection. */
export class ConnectionScript {
  readonly #rng: Rng;
  readonly #maxFrameBytes: number;
  readonly #length: number;
  #produced = 0;
  #ended = false;
  #nextId = 1;
  #connected = false;
  readonly #subscribed = new Set<string>();
  /** Commands before connect this script sends first (out of order). */
  #preConnect: number;

  constructor(seed: number, index: number, options: GeneratorOptions) {
    this.#rng = new Rng(deriveSeed(seed, index));
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#length = this.#rng.range(1, options.maxFrames ?? 250);
    this.#preConnect = this.#rng.chance(0.15) ? this.#rng.range(1, 4) : 0;
    // Some connections never connect at all: everything they send is out of order or hostile.
    if (this.#rng.chance(0.05)) this.#connected = true;
  }

  /** The next frame, or undefined when the script is over. */
  next(): Frame | undefined {
    if (this.#ended || this.#produced >= this.#length) return undefined;
    this.#produced++;
    const rng = this.#rng;
    let frame: Frame;
    if (!this.#connected && this.#preConnect > 0) {
      this.#preConnect--;
      frame = text('out-of-order', this.#command(rng.pick(METHODS)));
    } else if (!this.#connected) {
      this.#connected = true;
      frame = text('valid', this.#connect());
    } else {
      frame = this.#frameOf(rng.weighted(KIND_WEIGHTS));
    }
    if (frame.closes !== undefined) this.#ended = true;
    return frame;
  }

  #frameOf(kind: FrameKind): Frame {
    const rng = this.#rng;
    switch (kind) {
      case 'valid':
        return text(kind, this.#validCommand());
      case 'out-of-order':
        return text(kind, this.#outOfOrder());
      case 'multi': {
        const count = rng.range(2, 12);
        const separator = rng.pick(['\n', '\n', '\r\n', '\n\n']);
        const messages: string[] = [];
        for (let i = 0; i < count; i++) messages.push(this.#anyMessage());
        return text(kind, messages.join(separator));
      }
      case 'random-text':
        return text(
          kind,
          rng.chance(0.5)
            ? rng.unicode(rng.range(1, 400))
            : rng.stringOf(JSON_CHARS, rng.range(1, 2000)).replaceAll('\n', ' '),
        );
      case 'truncated': {
        const command = this.#validCommand();
        return text(kind, command.slice(0, rng.range(1, Math.max(1, command.length - 1))));
      }
      case 'malformed':
        return text(kind, this.#malformed());
      case 'wrong-type':
        return text(kind, this.#wrongType());
      case 'huge-number':
        return text(kind, this.#hugeNumber());
      case 'deep':
        return text(kind, this.#deep());
      case 'unknown-command': {
        const method = rng.chance(0.7)
          ? rng.pick(UNKNOWN_METHODS)
          : rng.stringOf('abcxyz_$', rng.range(1, 12));
        return text(kind, `{"id":${this.#id()},${JSON.stringify(method)}:${JSON.stringify(this.#params())}}`);
      }
      case 'special-string':
        return text(kind, this.#specialString());
      case 'pong':
        return text(
          kind,
          rng.pick([
            '{"pong":{}}',
            `{"pong":{},"id":${this.#id()}}`,
            '{"pong":null}',
            `{"pong":{}}\n{"id":${this.#id()},"ping":{}}`,
            ' {"pong":{}} ',
          ]),
        );
      case 'empty':
        return text(kind, rng.pick(['', '\n', '\r\n', '\n\n\n', ' ', '\t', '\r']));
      case 'at-limit':
        return text(kind, this.#atLimit());
      case 'flood': {
        const count = rng.range(200, 1500);
        const messages: string[] = [];
        for (let i = 0; i < count; i++) messages.push(`{"id":${this.#id()},"ping":{}}`);
        const frame = messages.join('\n');
        return count > MAX_QUEUED_COMMANDS
          ? { kind, payload: frame, binary: false, closes: DisconnectCode.BAD_REQUEST }
          : text(kind, frame);
      }
      case 'binary':
        return {
          kind,
          payload: rng.chance(0.5) ? Buffer.from(this.#validCommand()) : rng.bytes(rng.range(1, 512)),
          binary: true,
          closes: DisconnectCode.BAD_REQUEST,
        };
      case 'oversized': {
        const size = this.#maxFrameBytes + rng.pick([1, 2, 100, this.#maxFrameBytes]);
        const payload = `{"id":1,"publish":{"channel":"chat:a","data":"${'x'.repeat(size)}"}}`;
        return { kind, payload, binary: false, closes: WS_MESSAGE_TOO_BIG };
      }
      case 'invalid-utf8': {
        if (rng.chance(0.4)) {
          // Random bytes in a text frame: closed for invalid UTF-8, unless they happen to be valid.
          const bytes = rng.bytes(rng.range(1, 512));
          if (isUtf8(bytes)) return text('random-text', bytes.toString());
          return { kind, payload: bytes, binary: false, closes: WS_INVALID_PAYLOAD };
        }
        const command = Buffer.from(this.#validCommand());
        const at = rng.int(command.length + 1);
        const bad = Buffer.from(rng.pick(INVALID_UTF8_SEQUENCES));
        const payload = Buffer.concat([command.subarray(0, at), bad, command.subarray(at)]);
        return { kind, payload, binary: false, closes: WS_INVALID_PAYLOAD };
      }
    }
  }

  #id(): number {
    // Now and then an id is reused: the protocol asks for fresh ids, but a reuse must not confuse it.
    if (this.#nextId > 2 && this.#rng.chance(0.03)) return this.#rng.range(1, this.#nextId - 1);
    return this.#nextId++;
  }

  #channel(): string {
    const rng = this.#rng;
    return rng.chance(0.9) ? rng.pick(FUZZ_CHANNELS) : rng.pick(INVALID_CHANNELS);
  }

  #since(channel: string): { offset: number; epoch: string } {
    const rng = this.#rng;
    return {
      offset: rng.weighted([
        [0, 3],
        [rng.range(1, 20), 5],
        [rng.range(21, 100_000), 1],
      ]),
      epoch: rng.chance(0.8) ? `{{epoch:${channel}}}` : rng.stringOf('abcXYZ019_-', rng.range(0, 10)),
    };
  }

  #connect(): string {
    const rng = this.#rng;
    const variant = rng.weighted([
      ['good', 60],
      ['anonymous', 6],
      ['bad-token', 8],
      ['garbage', 3],
      ['long-name', 2],
      ['subs', 6],
      ['bad-subs', 2],
      ['empty-token', 1],
    ]);
    const params: Record<string, unknown> = {};
    switch (variant) {
      case 'good':
        params['token'] = `{{token:${rng.pick(GOOD_CONNECT_TOKENS)}}}`;
        if (rng.chance(0.3)) params['name'] = 'fuzz';
        if (rng.chance(0.3)) params['version'] = '1.0';
        break;
      case 'anonymous':
        break;
      case 'bad-token':
        params['token'] = `{{token:${rng.pick(BAD_CONNECT_TOKENS)}}}`;
        break;
      case 'garbage':
        params['token'] = rng.pick(['not-a-jwt', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.', rng.unicode(40)]);
        break;
      case 'long-name':
        params['token'] = '{{token:alice}}';
        params['name'] = 'n'.repeat(rng.range(65, 300));
        break;
      case 'subs':
        params['token'] = '{{token:alice}}';
        params['subs'] = { 'user:alice': { since: this.#since('user:alice') } };
        break;
      case 'bad-subs': {
        params['token'] = '{{token:alice}}';
        const subs: Record<string, unknown> = {};
        const count = rng.chance(0.5) ? 65 : rng.range(1, 3);
        for (let i = 0; i < count; i++) subs[`user:u${i}`] = rng.pick([null, 1, { since: null }, {}, []]);
        params['subs'] = subs;
        break;
      }
      case 'empty-token':
        params['token'] = '';
        break;
    }
    return JSON.stringify({ id: this.#id(), connect: params });
  }

  #params(): Record<string, unknown> {
    return this.#paramsFor(this.#rng.pick(METHODS));
  }

  #paramsFor(method: Method): Record<string, unknown> {
    const rng = this.#rng;
    const channel =
      method === 'unsubscribe' && this.#subscribed.size > 0 && rng.chance(0.7)
        ? rng.pick([...this.#subscribed])
        : this.#channel();
    switch (method) {
      case 'subscribe': {
        this.#subscribed.add(channel);
        const params: Record<string, unknown> = { channel };
        if (rng.chance(0.3)) params['since'] = this.#since(channel);
        if (channel.startsWith('priv:') || rng.chance(0.05)) {
          params['token'] = `{{token:${rng.pick(['channel-alice', 'channel-bob', 'alice'])}}}`;
        }
        return params;
      }
      case 'unsubscribe':
        this.#subscribed.delete(channel);
        return { channel };
      case 'publish':
        return { channel, data: jsonValue(rng, rng.range(0, 3)) };
      case 'history': {
        const params: Record<string, unknown> = { channel };
        if (rng.chance(0.4)) params['since'] = this.#since(channel);
        if (rng.chance(0.5)) params['limit'] = rng.pick([0, 1, 5, 100, 1000, 5000]);
        if (rng.chance(0.3)) params['reverse'] = rng.chance(0.5);
        return params;
      }
      case 'presence': {
        const params: Record<string, unknown> = { channel };
        if (rng.chance(0.4)) params['limit'] = rng.pick([1, 10, 1000, 1001, 0]);
        if (rng.chance(0.3))
          params['cursor'] = rng.pick(['0', '17', '-1', 'abc', '1e3', '99999999999999999999']);
        return params;
      }
      case 'presence_stats':
        return { channel };
      case 'refresh':
        return {
          token: `{{token:${rng.pick(['alice', 'alice', 'bob', 'expired', 'foreign', 'channel-alice'])}}}`,
        };
      case 'ping':
        return {};
    }
  }

  #command(method: Method): string {
    return JSON.stringify({ id: this.#id(), [method]: this.#paramsFor(method) });
  }

  #validCommand(): string {
    const method = this.#rng.weighted<Method>([
      ['subscribe', 6],
      ['unsubscribe', 3],
      ['publish', 5],
      ['history', 4],
      ['presence', 2],
      ['presence_stats', 2],
      ['refresh', 1],
      ['ping', 3],
    ]);
    return this.#command(method);
  }

  #outOfOrder(): string {
    const rng = this.#rng;
    switch (rng.int(5)) {
      case 0:
        return this.#connect(); // a second connect: 109
      case 1: {
        const channel = rng.pick(FUZZ_CHANNELS);
        const subscribe = JSON.stringify({ id: this.#id(), subscribe: { channel } });
        this.#subscribed.add(channel);
        return `${subscribe}\n${JSON.stringify({ id: this.#id(), subscribe: { channel } })}`; // 110
      }
      case 2: {
        const channel = rng.pick(FUZZ_CHANNELS);
        const since = { offset: rng.range(0, 5), epoch: 'stale-epoch' };
        return JSON.stringify({ id: this.#id(), history: { channel, since } }); // 113
      }
      case 3: {
        const channel = rng.pick(FUZZ_CHANNELS);
        this.#subscribed.delete(channel);
        return [
          JSON.stringify({ id: this.#id(), unsubscribe: { channel } }),
          JSON.stringify({ id: this.#id(), publish: { channel, data: 1 } }),
          JSON.stringify({ id: this.#id(), unsubscribe: { channel } }),
        ].join('\n');
      }
      default:
        return JSON.stringify({ id: this.#id(), refresh: { token: '{{token:bob}}' } });
    }
  }

  /** Any single non-closing message, for multi-message frames. */
  #anyMessage(): string {
    const rng = this.#rng;
    switch (rng.int(8)) {
      case 0:
        return this.#wrongType();
      case 1:
        return this.#hugeNumber();
      case 2:
        return rng.stringOf(JSON_CHARS, rng.range(1, 60)).replaceAll('\n', ' ');
      case 3:
        return '{"pong":{}}';
      default:
        return this.#validCommand();
    }
  }

  #malformed(): string {
    const rng = this.#rng;
    const command = this.#validCommand();
    const at = rng.int(command.length);
    switch (rng.int(9)) {
      case 0:
        return command.slice(0, at) + command.slice(at + 1);
      case 1:
        return command.slice(0, at) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\']) + command.slice(at);
      case 2:
        return command.replaceAll('"', "'");
      case 3:
        return command.replace(/}$/, ',}');
      case 4:
        return command.replace('{', '{/*c*/');
      case 5:
        return command + command;
      case 6:
        return `\ufeff${command}`;
      case 7:
        return command.replace(/"([a-z_]+)":/, '$1:');
      default:
        return `${command.slice(0, at)}\u0000${command.slice(at)}`;
    }
  }

  #wrongType(): string {
    const rng = this.#rng;
    const method = rng.pick(['connect', ...METHODS] as const);
    const params = method === 'connect' ? { token: '{{token:alice}}' } : this.#paramsFor(method);
    const command: Record<string, unknown> = { id: this.#id(), [method]: params };
    const wrong = () => rng.pick(wrongValues(rng));
    switch (rng.int(5)) {
      case 0:
        command['id'] = wrong();
        break;
      case 1:
        command[method] = wrong();
        break;
      case 2: {
        const keys = Object.keys(params);
        const key =
          keys.length > 0 && rng.chance(0.8)
            ? rng.pick(keys)
            : rng.pick(['channel', 'data', 'since', 'limit', 'token', 'cursor', 'reverse', 'subs']);
        (params as Record<string, unknown>)[key] = wrong();
        break;
      }
      case 3: {
        const keys = Object.keys(params);
        const drop = keys.length > 0 ? rng.pick(keys) : undefined;
        if (drop === undefined) delete command['id'];
        else command[method] = Object.fromEntries(Object.entries(params).filter(([key]) => key !== drop));
        break;
      }
      default:
        // An own property, so that even `__proto__` is in the JSON text.
        Object.defineProperty(params, rng.pick(['extra', '__proto__', 'constructor', 'prototype']), {
          value: wrong(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return JSON.stringify(command);
  }

  #hugeNumber(): string {
    const rng = this.#rng;
    const n = rng.chance(0.9) ? rng.pick(NUMBER_TEXTS) : '9'.repeat(rng.range(20, 5000));
    const id = this.#id();
    switch (rng.int(6)) {
      case 0:
        return `{"id":${n},"ping":{}}`;
      case 1:
        return `{"id":${id},"history":{"channel":"chat:a","limit":${n}}}`;
      case 2:
        return `{"id":${id},"subscribe":{"channel":"chat:b","since":{"offset":${n},"epoch":"{{epoch:chat:b}}"}}}`;
      case 3:
        return `{"id":${id},"presence":{"channel":"chat:a","limit":${n}}}`;
      case 4:
        return `{"id":${id},"publish":{"channel":"chat:c","data":${n}}}`;
      default:
        return `{"id":${id},"history":{"channel":"chat:a","since":{"offset":${n},"epoch":"{{epoch:chat:a}}"}}}`;
    }
  }

  #deep(): string {
    const rng = this.#rng;
    // Bounded by the frame limit: the opening and closing brackets must fit.
    const most = Math.floor((this.#maxFrameBytes - 1000) / 6);
    const depth = Math.min(most, rng.pick([64, 1000, 5000, 20_000, 32_000]));
    const array = '['.repeat(depth) + ']'.repeat(depth);
    const object = '{"a":'.repeat(Math.min(depth, most)) + '1' + '}'.repeat(Math.min(depth, most));
    const nested = rng.chance(0.5) ? array : object;
    const id = this.#id();
    switch (rng.int(5)) {
      case 0:
        return nested;
      case 1:
        return `{"id":${id},"publish":{"channel":"chat:a","data":${nested}}}`;
      case 2:
        return `{"id":${id},"subscribe":${nested}}`;
      case 3:
        return `{"id":${nested},"ping":{}}`;
      default:
        return `{"id":${id},"connect":{"token":"{{token:alice}}","subs":{"user:alice":{"since":${nested}}}}}`;
    }
  }

  #specialString(): string {
    const rng = this.#rng;
    const id = this.#id();
    switch (rng.int(7)) {
      case 0:
        return JSON.stringify({ id, subscribe: { channel: rng.pick(INVALID_CHANNELS) } });
      case 1:
        return JSON.stringify({
          id,
          publish: { channel: rng.pick(INVALID_CHANNELS), data: rng.unicode(20) },
        });
      case 2:
        return JSON.stringify({ id, refresh: { token: 'x'.repeat(rng.pick([16 * 1024 + 1, 20_000])) } });
      case 3:
        return JSON.stringify({
          id,
          presence: { channel: 'chat:a', cursor: rng.unicode(rng.range(1, 300)) },
        });
      case 4:
        return `{"id":${id},"subscribe":{"channel":"chat:\\ud800\\udc00"}}`;
      case 5:
        return `{"id":${id},"publish":{"channel":"chat:a","data":"\\ud800 \\u0000 \\udfff"}}`;
      default:
        return JSON.stringify({ id, history: { channel: rng.unicode(rng.range(1, 40)) } });
    }
  }

  /** A publish whose frame is exactly the frame limit: it must be accepted. */
  #atLimit(): string {
    const head = `{"id":${this.#id()},"publish":{"channel":"chat:a","data":"`;
    const tail = '"}}';
    return head + 'y'.repeat(Math.max(0, this.#maxFrameBytes - head.length - tail.length)) + tail;
  }
}

function text(kind: FrameKind, payload: string): Frame {
  return { kind, payload, binary: false };
}
