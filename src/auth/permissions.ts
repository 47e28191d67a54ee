/**
 * Who may do what on a channel, from the namespace's options and the client's token. By the
 * namespace's `subscribe`: any authenticated client (narrowed by its token's `channels` claim when it
 * has one), only clients whose claim lists the channel, or only clients with a channel token for it;
 * anonymous clients only where `anonymousSubscribe` allows. Clients publish only where the namespace
 * allows it (never anonymously), and read history and presence where the namespace allows it, on the
 * channels they may subscribe to.
 */
import type { ChannelMatcher } from '../core/pattern.ts';
import type { NamespaceOptions } from '../core/namespace.ts';
import { isReservedChannel, namespaceOf } from '../core/channel.ts';
import { HeraldError } from '../core/errors.ts';
import type { ChannelGrant } from './tokens.ts';

export type Identity =
  | { readonly anonymous: true; readonly dashboard?: never }
  | {
      readonly anonymous: false;
      readonly user: string;
      readonly channels: ChannelMatcher | undefined;
      readonly dashboard?: never;
    }
  /**
   * The dashboard's own connection (signed in with the admin password or API key): it watches any
   * channel, Herald's own included, and reads history and presence; it publishes through the API.
   */
  | {
      readonly anonymous: false;
      readonly dashboard: true;
      readonly user: string;
      readonly channels: undefined;
    };

/** Herald's own channels (`$herald:…`) are the dashboard's alone. */
function checkReserved(identity: Identity, channel: string): void {
  if (isReservedChannel(channel) && identity.dashboard !== true) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `${channel} is reserved for Herald's dashboard`);
  }
}

/**
 * Throws HERALD_ERR_PERMISSION_DENIED unless `identity` may subscribe to `channel`. In a private
 * namespace that takes `grant`, a verified channel token, for this user and channel.
 */
export function checkSubscribe(
  identity: Identity,
  options: NamespaceOptions,
  channel: string,
  grant?: ChannelGrant,
): void {
  checkReserved(identity, channel);
  if (identity.dashboard === true) return;
  if (identity.anonymous) {
    if (!options.anonymousSubscribe || options.subscribe !== 'any') {
      throw new HeraldError(
        'HERALD_ERR_PERMISSION_DENIED',
        `anonymous clients may not subscribe to ${channel}`,
      );
    }
    return;
  }
  if (options.personal && channel !== `${namespaceOf(channel)}:${identity.user}`) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `${channel} is another user's personal channel`);
  }
  switch (options.subscribe) {
    case 'any':
      if (identity.channels !== undefined && !identity.channels(channel)) {
        throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `the token does not allow channel ${channel}`);
      }
      return;
    case 'listed':
      if (identity.channels === undefined || !identity.channels(channel)) {
        throw new HeraldError(
          'HERALD_ERR_PERMISSION_DENIED',
          `${channel} is only for clients whose token's "channels" claim lists it`,
        );
      }
      return;
    case 'private':
      if (grant === undefined) {
        throw new HeraldError(
          'HERALD_ERR_PERMISSION_DENIED',
          `${channel} is private: subscribe with a channel token ("token")`,
        );
      }
      if (identity.channels !== undefined && !identity.channels(channel)) {
        throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `the token does not allow channel ${channel}`);
      }
      if (grant.channel !== channel || grant.user !== identity.user) {
        throw new HeraldError(
          'HERALD_ERR_PERMISSION_DENIED',
          `the channel token is for ${grant.channel} and user ${grant.user}, not ${channel} and ${identity.user}`,
        );
      }
  }
}

/**
 * Throws HERALD_ERR_PERMISSION_DENIED unless `identity` may read the history (or, with `what`, the
 * presence) of `channel`: the namespace lets clients read it and the client may subscribe — in a
 * private namespace, the connection must hold a subscription to the channel (made with its token).
 */
export function checkRead(
  identity: Identity,
  options: NamespaceOptions,
  channel: string,
  subscribed: boolean,
  what: 'history' | 'presence' = 'history',
): void {
  checkReserved(identity, channel);
  if (identity.dashboard === true) return;
  const allowed = what === 'history' ? options.clientHistory : options.clientPresence;
  if (!allowed) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `clients may not read the ${what} of ${channel}`);
  }
  if (options.subscribe === 'private') {
    if (identity.anonymous || !subscribed) {
      throw new HeraldError(
        'HERALD_ERR_PERMISSION_DENIED',
        `${channel} is private: subscribe with a channel token before reading its ${what}`,
      );
    }
    return;
  }
  checkSubscribe(identity, options, channel);
}

/**
 * Throws HERALD_ERR_PERMISSION_DENIED unless `identity` may publish to `channel` from a client
 * connection: the namespace allows client publishing, the client is authenticated and may subscribe
 * to the channel — in a private namespace, holds a subscription to it.
 */
export function checkPublish(
  identity: Identity,
  options: NamespaceOptions,
  channel: string,
  subscribed: boolean,
): void {
  if (identity.dashboard === true) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', 'the dashboard publishes through the server API');
  }
  checkReserved(identity, channel);
  if (!options.clientPublish) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', `clients may not publish to ${channel}`);
  }
  if (identity.anonymous) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', 'anonymous clients may not publish');
  }
  if (options.subscribe === 'private') {
    if (!subscribed) {
      throw new HeraldError(
        'HERALD_ERR_PERMISSION_DENIED',
        `${channel} is private: subscribe with a channel token before publishing to it`,
      );
    }
    return;
  }
  checkSubscribe(identity, options, channel);
}
