/**
 * Herald's client SDK: `new Herald(url, options)`, then `newSubscription(channel).subscribe()`.
 * docs/client.md has the guide.
 */
export { Herald, type ClientEvents, type ClientState, type HeraldOptions } from './client.ts';
export {
  Subscription,
  type Publication,
  type SubscriptionEvents,
  type SubscriptionOptions,
  type SubscriptionState,
} from './subscription.ts';
export {
  ClientErrorCode,
  ConnectionClosedError,
  HeraldError,
  ServerError,
  StateError,
  TimeoutError,
} from './errors.ts';
export { backoffDelay, type BackoffOptions } from './backoff.ts';
export type { TransportName, WebSocketConstructor, WebSocketLike } from './transport.ts';
export type { ServerSubscribedContext } from './server-subscriptions.ts';
export type { EventSourceConstructor, EventSourceLike, FetchFunction } from './sse-transport.ts';
export {
  DisconnectCode,
  ErrorCode,
  UnsubscribeCode,
  type ClientInfo,
  type HistoryResult,
  type JsonValue,
  type PresenceResult,
  type PresenceStatsResult,
  type PublishResult,
  type StreamPosition,
} from '@herald/protocol';
