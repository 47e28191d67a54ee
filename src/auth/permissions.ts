/**
 * Who may do what on a channel, from the namespace's options and the client's token.
 * Authenticated clients may subscribe to any channel unless their token's `channels` claim narrows
 * them; anonymous clients only where the namespace allows it; clients publish only where the
 * namespace allows it, and anonymous clients never do.
 */
import type { ChannelMatcher } from '../core/pattern.ts';
import type { NamespaceOptions } from '../core/namespace.ts';
import { HeraldError } from '../core/errors.ts';

export type Identity =
  | { readonly anonymous: true }
  | { readonly anonymous: false; readonly user: string; readonly channels: ChannelMatcher | undefined };

/** Throws HERALD_ERR_PERMISSION_DENIED unless `identity` may subscribe to (and read the history of) `channel`. */
export function checkSubscribe(identity: Identity, options: NamespaceOptions, channel: string): void {
  if (identity.anonymous) {
    if (!options.anonymousSubscribe) {
      throw new HeraldError(
        'HERALD_ERR_PERMISSION_DENIED',
        `anonymous clients may not subscribe to ${channel}`,
      );
    }
    return;
  }
  if (identity.channels !== undefined && !identity.channels(channel)) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `the token does not allow channel ${channel}`);
  }
}

/** Throws HERALD_ERR_PERMISSION_DENIED unless `identity` may publish to `channel` from a client connection. */
export function checkPublish(identity: Identity, options: NamespaceOptions, channel: string): void {
  if (!options.clientPublish) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `clients may not publish to ${channel}`);
  }
  if (identity.anonymous) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', 'anonymous clients may not publish');
  }
  checkSubscribe(identity, options, channel);
}
