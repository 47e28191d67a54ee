/**
 * Keeps the engine subscribed to exactly the channels that have local subscribers. Calls for one
 * channel run one after another and each decides from the hub's state *when it runs*, not when it was
 * requested, so however fast clients come and go, the last call leaves the engine subscribed exactly
 * when the channel has local subscribers. A call that failed (Redis unreachable) is retried by the
 * next `sync` of the channel, which the node's periodic maintenance makes for every channel.
 */
import type { Broker } from '../engine/broker.ts';

export interface EngineSubscriptionsOptions {
  readonly broker: Broker;
  /** Whether the engine should deliver this channel now. */
  wanted(channel: string): boolean;
  /** Called before the engine subscription is requested: publications may follow at once. */
  onSubscribing(channel: string): void;
  /** Called when the channel is no longer delivered (unsubscribed, or the subscribe failed). */
  onUnsubscribed(channel: string): void;
}

export class EngineSubscriptions {
  readonly #options: EngineSubscriptionsOptions;
  /** Channels the engine delivers to this node. */
  readonly #subscribed = new Set<string>();
  /** Per channel, the tail of its chain of subscribe/unsubscribe calls. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(options: EngineSubscriptionsOptions) {
    this.#options = options;
  }

  channels(): IterableIterator<string> {
    return this.#subscribed.keys();
  }

  /** Brings the engine subscription of `channel` in line with `wanted`; rejects if the engine call fails. */
  sync(channel: string): Promise<void> {
    return this.#chain(channel, () => this.#reconcile(channel));
  }

  /** Runs `call` after the channel's calls before it. */
  #chain(channel: string, call: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(channel) ?? Promise.resolve();
    const next = previous.then(call);
    const tail = next.catch(() => undefined);
    this.#chains.set(channel, tail);
    void tail.then(() => {
      if (this.#chains.get(channel) === tail) this.#chains.delete(channel);
    });
    return next;
  }

  /**
   * Renews the engine subscription of a channel that looks dead (subscribed, yet nothing arrives),
   * in line with the channel's other calls. A failed renewal leaves it unsubscribed, for the next
   * `sync` to subscribe again.
   */
  resubscribe(channel: string): Promise<void> {
    return this.#chain(channel, async () => {
      if (!this.#subscribed.has(channel)) return;
      await this.#options.broker.unsubscribe(channel).catch(() => undefined);
      try {
        await this.#options.broker.subscribe(channel);
      } catch (err) {
        this.#subscribed.delete(channel);
        this.#options.onUnsubscribed(channel);
        throw err;
      }
    });
  }

  /** Resolves when every call in flight has finished. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#chains.values());
  }

  async #reconcile(channel: string): Promise<void> {
    const wanted = this.#options.wanted(channel);
    const subscribed = this.#subscribed.has(channel);
    if (wanted && !subscribed) {
      this.#options.onSubscribing(channel);
      try {
        await this.#options.broker.subscribe(channel);
      } catch (err) {
        this.#options.onUnsubscribed(channel);
        throw err;
      }
      this.#subscribed.add(channel);
    } else if (!wanted && subscribed) {
      // Until the engine confirms, the channel counts as subscribed, so a failed call is retried.
      await this.#options.broker.unsubscribe(channel);
      this.#subscribed.delete(channel);
      this.#options.onUnsubscribed(channel);
    }
  }
}
