/**
 * Per-namespace channel options. A channel takes the options of its namespace (the part of its name
 * before the first `:`); namespaces without configuration take the defaults.
 */
import { namespaceOf } from './channel.ts';

export interface NamespaceOptions {
  /** Publications kept per channel for history and recovery; 0 keeps no history. Default 100. */
  readonly historySize: number;
  /** How long a channel's history lives after its last publication, in ms. Default 10 minutes. */
  readonly historyTtlMs: number;
  /** Whether connected clients may publish (the server API always may). Default false. */
  readonly clientPublish: boolean;
  /** Whether clients without a token may subscribe. Default false. */
  readonly anonymousSubscribe: boolean;
}

export const DEFAULT_NAMESPACE_OPTIONS: NamespaceOptions = {
  historySize: 100,
  historyTtlMs: 10 * 60_000,
  clientPublish: false,
  anonymousSubscribe: false,
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

  /** Whether any channel at all may be subscribed anonymously (if not, anonymous connects are refused). */
  get anyAnonymous(): boolean {
    if (this.#defaults.anonymousSubscribe) return true;
    for (const options of this.#namespaces.values()) if (options.anonymousSubscribe) return true;
    return false;
  }
}
