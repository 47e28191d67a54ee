/**
 * What the fuzzed server is configured with and what the generated frames refer to: namespaces that
 * open every code path (client publish, no history, anonymous, private, personal, presence, locked
 * reads), the channel pool, and the tokens. Frames name tokens and epochs by placeholder
 * (`{{token:alice}}`, `{{epoch:chat:a}}`), filled in just before sending, so that the frames of a
 * seed are the same whatever the server answered.
 */
import { DEFAULT_NAMESPACE_OPTIONS, type NamespaceOptions } from '../../src/core/namespace.ts';
import type { MintOptions } from '../../src/auth/tokens.ts';

export const FUZZ_NAMESPACES: Readonly<Record<string, NamespaceOptions>> = {
  chat: { ...DEFAULT_NAMESPACE_OPTIONS, clientPublish: true, presence: true, joinLeave: true },
  live: { ...DEFAULT_NAMESPACE_OPTIONS, historySize: 0, clientPublish: true },
  public: { ...DEFAULT_NAMESPACE_OPTIONS, anonymousSubscribe: true },
  priv: { ...DEFAULT_NAMESPACE_OPTIONS, subscribe: 'private', clientPublish: true },
  listed: { ...DEFAULT_NAMESPACE_OPTIONS, subscribe: 'listed' },
  user: { ...DEFAULT_NAMESPACE_OPTIONS, personal: true },
  locked: { ...DEFAULT_NAMESPACE_OPTIONS, clientHistory: false, clientPresence: false, presence: true },
};

/** Valid channel names the frames use: a fixed pool, so the channels' state stays bounded. */
export const FUZZ_CHANNELS: readonly string[] = [
  'chat:a',
  'chat:b',
  'chat:c',
  'live:x',
  'live:y',
  'public:p',
  'priv:s',
  'listed:l',
  'user:alice',
  'user:bob',
  'locked:k',
  'demo:room',
  'plain',
  '$herald:stats',
];

/** Channels of the pool that keep history (their epochs are learned before the run). */
export const HISTORY_CHANNELS: readonly string[] = FUZZ_CHANNELS.filter(
  (channel) => !channel.startsWith('live:') && !channel.startsWith('$'),
);

/** The control client's channel: no generated frame names it. */
export const CONTROL_CHANNEL = 'chat:control';

/** Tokens the frames may name, minted with the server's secret (except `foreign`). */
export const FUZZ_TOKENS: Readonly<Record<string, MintOptions>> = {
  alice: { user: 'alice' },
  bob: { user: 'bob', info: { name: 'Bob' } },
  limited: { user: 'carol', channels: ['chat:*', 'public:*', 'listed:l'] },
  demo: { user: 'dave', channels: ['demo:*'], ttlSeconds: 3600 },
  expired: { user: 'alice', ttlSeconds: -3600 },
  'channel-alice': { user: 'alice', channel: 'priv:s' },
  'channel-bob': { user: 'bob', channel: 'priv:s' },
  foreign: { user: 'alice' },
};
export const FOREIGN_SECRET = 'another-secret-that-is-not-the-server-one-0123';

/** Tokens a connect may use and stay connected with (`anonymous` sends none). */
export const GOOD_CONNECT_TOKENS = ['alice', 'bob', 'limited', 'demo'] as const;
/** Tokens a connect fails with (the server then closes the connection). */
export const BAD_CONNECT_TOKENS = ['expired', 'channel-alice', 'foreign'] as const;
