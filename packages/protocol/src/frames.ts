/**
 * Herald protocol v1 (WebSocket subprotocol `herald.v1.json`): the shape of every message.
 *
 * A WebSocket text frame carries one or more messages, each a JSON object, separated by `\n`.
 * Clients send commands (`{id, <method>: params}`) and answer server pings with `{pong: {}}`;
 * the server sends replies (`{id, result}` or `{id, error}`), pushes (`{push}`) and pings
 * (`{ping: {}}`). docs/protocol.md is the readable form of this file.
 */

/** The WebSocket subprotocol a client must offer. */
export const SUBPROTOCOL = 'herald.v1.json';

/** Any JSON value (the `data` of a publication, the `info` of a client). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A position in a channel's stream: the offset of the last publication and the history's epoch. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** The publishing client, attached to publications that a client (not the server API) published. */
export interface ClientInfo {
  client: string;
  user: string;
  info?: JsonValue;
}

/** A publication as it travels to clients. `offset` and `epoch` are absent where the channel keeps no history. */
export interface PublicationFrame {
  offset?: number;
  epoch?: string;
  data: JsonValue;
  info?: ClientInfo;
  /** Milliseconds since the Unix epoch at which the node accepted the publication. */
  time: number;
}

export interface ConnectRequest {
  /** A JWT; omit to connect anonymously (allowed only where a namespace permits anonymous clients). */
  token?: string;
  /** Free-form client name and version, for logs. */
  name?: string;
  version?: string;
  /**
   * Positions of server-side subscriptions (personal channels) the client held before it reconnected,
   * by channel: they resume from there.
   */
  subs?: Record<string, { since: StreamPosition }>;
}
export interface ConnectResult {
  client: string;
  version: string;
  /** Seconds between server pings; answer each with `{pong: {}}`. */
  ping: number;
  /** Unix time (seconds) at which the token expires, when it has an `exp`. */
  expires?: number;
}

export interface SubscribeRequest {
  channel: string;
  /** The last position the client saw; present to recover what it missed. */
  since?: StreamPosition;
  /** A channel token (a JWT for this user and channel), required by private namespaces. */
  token?: string;
}
export interface SubscribeResult {
  /** Whether the channel keeps history, so this subscription can be recovered later. */
  recoverable: boolean;
  /** Current position (present where the channel keeps history). */
  offset?: number;
  epoch?: string;
  /** Present when `since` was given: whether every missed publication is in `publications`. */
  recovered?: boolean;
  /** The missed publications, oldest first (present when `since` was given). */
  publications?: PublicationFrame[];
}

export interface UnsubscribeRequest {
  channel: string;
}
export interface PublishRequest {
  channel: string;
  data: JsonValue;
}
export interface PublishResult {
  offset?: number;
  epoch?: string;
}
export interface HistoryRequest {
  channel: string;
  /** Return publications after this position. Without it, from the oldest kept (the newest with `reverse`). */
  since?: StreamPosition;
  /** At most this many publications (default and maximum: the server's history page size). */
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
}
export interface HistoryResult {
  publications: PublicationFrame[];
  offset: number;
  epoch: string;
}
export interface PresenceRequest {
  channel: string;
  /** From the previous page's result; omit for the first page. */
  cursor?: string;
  /** About this many clients per page (default 100, at most 1000). */
  limit?: number;
}
export interface PresenceResult {
  clients: ClientInfo[];
  /** Present when there are more pages. */
  cursor?: string;
}
export interface PresenceStatsRequest {
  channel: string;
}
export interface PresenceStatsResult {
  /** Clients present on every node. */
  clients: number;
  /** Distinct users among them (anonymous clients not counted). */
  users: number;
}
export interface RefreshRequest {
  token: string;
}
export interface RefreshResult {
  expires?: number;
}

/** Every command a client can send, keyed by method. */
export interface Commands {
  connect: [ConnectRequest, ConnectResult];
  subscribe: [SubscribeRequest, SubscribeResult];
  unsubscribe: [UnsubscribeRequest, Record<string, never>];
  publish: [PublishRequest, PublishResult];
  history: [HistoryRequest, HistoryResult];
  ping: [Record<string, never>, Record<string, never>];
  refresh: [RefreshRequest, RefreshResult];
  presence: [PresenceRequest, PresenceResult];
  presence_stats: [PresenceStatsRequest, PresenceStatsResult];
}
export type Method = keyof Commands;
export const METHODS: readonly Method[] = [
  'connect',
  'subscribe',
  'unsubscribe',
  'publish',
  'history',
  'ping',
  'refresh',
  'presence',
  'presence_stats',
];

export interface ErrorPayload {
  code: number;
  message: string;
  /** True when the same command may succeed later. */
  temporary?: boolean;
}

/** Server → client. */
export type ReplyFrame = { id: number; result: unknown } | { id?: number; error: ErrorPayload };
export interface PushFrame {
  push:
    | { channel: string; pub: PublicationFrame }
    /** The server subscribed the connection to the channel (a personal channel, or the server API). */
    | { channel: string; subscribe: SubscribeResult }
    | { channel: string; unsubscribe: { code: number; reason: string } }
    /** A client subscribed to, or left, the channel (namespaces with `joinLeave`). */
    | { channel: string; join: ClientInfo }
    | { channel: string; leave: ClientInfo };
}
export interface ServerPingFrame {
  ping: Record<string, never>;
}
