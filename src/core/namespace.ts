/**
 * Per-namespace channel options. A channel takes the options of its namespace (the part of its name
 * before the first `:`); namespaces without configuration take the defaults.
 */
import { namespaceOf } from './channel.ts';

/**
 * Who may subscribe to a namespace's channels (besides anonymous clients, see `anonymousSubscribe`):
 * - `any`: any authenticated client, narrowed by its token's `channels` claim when it has one;
 * - `listed`: only clients whose token's `channels` claim lists the channel or a matching pattern;
 * - `private`: only with a channel token the app back end signed for the user and the channel.
 */
export type SubscribeAccess = 'any' | 'listed' | 'private';
export const SUBSCRIBE_ACCESS: readonly SubscribeAccess[] = ['any', 'listed', 'private'];

export interface NamespaceOptions {
  /** Publications kept per channel for history and recovery; 0 keeps no history. Default 100. */
  readonly historySize: number;
  /** How long a channel's history lives after its last publication, in ms. Default 10 minutes. */
  readonly historyTtlMs: number;
  /** Whether connected clients may publish (the server API always may). Default false. */
  readonly clientPublish: boolean;
  /** Whether clients without a token may subscribe (only with `subscribe: "any"`). Default false. */
  readonly anonymousSubscribe: boolean;
  /** Who may subscribe. Default `any`. */
  readonly subscribe: SubscribeAccess;
  /** Whether clients may read history (those that may subscribe). The server API always may. Default true. */
  readonly clientHistory: boolean;
  /** Whether clients may read presence (those that may subscribe). The server API always may. Default true. */
  readonly clientPresence: boolean;
  /**
   * Whether each user has a personal channel here, `<namespace>:<user>`, that all the user's
   * connections are subscribed to by the server when they connect. Default false.
   */
  readonly personal: boolean;
  /** Whether the namespace's channels keep presence (who is subscribed, on every node). Default false. */
  readonly presence: boolean;
  /** Whether subscribers of the namespace's channels are told when clients join and leave. Default false. */
  readonly joinLeave: boolean;
}

export const DEFAULT_NAMESPACE_OPTIONS: NamespaceOptions = {
  historySize: 100,
  historyTtlMs: 10 * 60_000,
  clientPublish: false,
  anonymousSubscribe: false,
  subscribe: 'any',
  clientHistory: true,
  clientPresence: true,
  personal: false,
  presence: false,
  joinLeave: false,
};

/** Resolves channel names to their namespace's options. */
export class NamespaceRules {
  readonly #defaults: NamespaceOptions;
  readonly #namespaces: ReadonlyMap<string, NamespaceOptions>;

  constructor(defaults: NamespaceOptions, namespaces: ReadonlyMap<string, NamespaceOptions> = new Map()) {
    this.#defaults = defaults;
    this.#namespaces = namespaces;
  }

  forChannel(channel: string): NamespaceOptions {
    return this.#namespaces.get(namespaceOf(channel)) ?? this.#defaults;
  }

  /** The names of the namespaces with personal channels. */
  get personalNamespaces(): readonly string[] {
    return [...this.#namespaces].filter(([, options]) => options.personal).map(([name]) => name);
  }

  /** Whether any channel at all may be subscribed anonymously (if not, anonymous connects are refused). */
  get anyAnonymous(): boolean {
    const anonymous = (options: NamespaceOptions) =>
      options.anonymousSubscribe && options.subscribe === 'any';
    if (anonymous(this.#defaults)) return true;
    for (const options of this.#namespaces.values()) if (anonymous(options)) return true;
    return false;
  }
}

/** Herald's own namespace: names starting with `$` are reserved, and only the dashboard reads them. */
export const SYSTEM_NAMESPACE = '$herald';
/** Where every node publishes its counters each second, for the dashboard's live overview. */
export const STATS_CHANNEL = `${SYSTEM_NAMESPACE}:stats`;

const SYSTEM_NAMESPACE_OPTIONS: NamespaceOptions = {
  ...DEFAULT_NAMESPACE_OPTIONS,
  // Ten minutes of one node's samples, or a couple of minutes of a handful of nodes': charts start full.
  historySize: 600,
  historyTtlMs: 10 * 60_000,
};

/**
 * The namespace of the demo page's chat (`/demo`) unless the operator configured one of that name:
 * clients publish, see who is there, hear joins and leaves, and find the last messages on arrival.
 */
export const DEMO_NAMESPACE = 'demo';
const DEMO_NAMESPACE_OPTIONS: NamespaceOptions = {
  ...DEFAULT_NAMESPACE_OPTIONS,
  historySize: 100,
  historyTtlMs: 60 * 60_000,
  // Only the demo's own tokens (which list `demo:*`) get in: not every user of the app.
  subscribe: 'listed',
  clientPublish: true,
  presence: true,
  joinLeave: true,
};

/** The configured namespaces with Herald's own added: `$herald`, and `demo` when the dashboard is on. */
export function withBuiltInNamespaces(
  configured: Readonly<Record<string, NamespaceOptions>>,
  { dashboard }: { readonly dashboard: boolean },
): Map<string, NamespaceOptions> {
  const namespaces = new Map(Object.entries(configured));
  namespaces.set(SYSTEM_NAMESPACE, SYSTEM_NAMESPACE_OPTIONS);
  if (dashboard && !namespaces.has(DEMO_NAMESPACE)) namespaces.set(DEMO_NAMESPACE, DEMO_NAMESPACE_OPTIONS);
  return namespaces;
}
