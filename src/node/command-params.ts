/**
 * Validation of command parameters received over the protocol. Each parser returns typed
 * parameters or throws HERALD_ERR_BAD_REQUEST / HERALD_ERR_INVALID_CHANNEL naming the bad field.
 */
import type {
  ConnectRequest,
  HistoryRequest,
  PublishRequest,
  RefreshRequest,
  StreamPosition,
  SubscribeRequest,
  UnsubscribeRequest,
} from '@herald/protocol';
import { assertChannel } from '../core/channel.ts';
import { HeraldError } from '../core/errors.ts';

type Params = Record<string, unknown>;

function bad(message: string): HeraldError {
  return new HeraldError('HERALD_ERR_BAD_REQUEST', message);
}

export function asParams(method: string, value: unknown): Params {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(`"${method}" must be an object`);
  }
  return value as Params;
}

function optionalString(params: Params, field: string, maxLength = 1024): string | undefined {
  const value = params[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw bad(`"${field}" must be a string`);
  if (value.length > maxLength) throw bad(`"${field}" is longer than ${maxLength} characters`);
  return value;
}

function requiredString(params: Params, field: string, maxLength?: number): string {
  const value = optionalString(params, field, maxLength);
  if (value === undefined) throw bad(`"${field}" is required`);
  return value;
}

function channelOf(params: Params): string {
  const channel = params['channel'];
  if (channel === undefined) throw bad('"channel" is required');
  assertChannel(channel);
  return channel;
}

function optionalBoolean(params: Params, field: string): boolean | undefined {
  const value = params[field];
  if (value === undefined || typeof value === 'boolean') return value;
  throw bad(`"${field}" must be a boolean`);
}

export function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function optionalPosition(params: Params, field: string): StreamPosition | undefined {
  const value = params[field];
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw bad(`"${field}" must be an object {offset, epoch}`);
  const { offset, epoch } = value as Params;
  if (!isOffset(offset)) throw bad(`"${field}.offset" must be an integer >= 0`);
  if (typeof epoch !== 'string') throw bad(`"${field}.epoch" must be a string`);
  return { offset, epoch };
}

const TOKEN_MAX = 16 * 1024;

export function parseConnect(params: Params): ConnectRequest {
  const token = optionalString(params, 'token', TOKEN_MAX);
  const name = optionalString(params, 'name', 64);
  const version = optionalString(params, 'version', 64);
  const subs = optionalSubs(params);
  return {
    ...(token === undefined ? {} : { token }),
    ...(name === undefined ? {} : { name }),
    ...(version === undefined ? {} : { version }),
    ...(subs === undefined ? {} : { subs }),
  };
}

/** Most server-side subscriptions a connect may name in `subs`. */
const MAX_SUBS = 64;

function optionalSubs(params: Params): Record<string, { since: StreamPosition }> | undefined {
  const value = params['subs'];
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad('"subs" must be an object of {"<channel>": {"since": {offset, epoch}}}');
  }
  const entries = Object.entries(value as Params);
  if (entries.length > MAX_SUBS) throw bad(`"subs" may name at most ${MAX_SUBS} channels`);
  const subs: Record<string, { since: StreamPosition }> = {};
  for (const [channel, entry] of entries) {
    if (entry === null || typeof entry !== 'object') throw bad(`"subs.${channel}" must be an object {since}`);
    const since = optionalPosition(entry as Params, 'since');
    if (since === undefined) throw bad(`"subs.${channel}.since" is required`);
    subs[channel] = { since };
  }
  return subs;
}

export function parseSubscribe(params: Params): SubscribeRequest {
  const channel = channelOf(params);
  const since = optionalPosition(params, 'since');
  const token = optionalString(params, 'token', TOKEN_MAX);
  return {
    channel,
    ...(since === undefined ? {} : { since }),
    ...(token === undefined ? {} : { token }),
  };
}

export function parseUnsubscribe(params: Params): UnsubscribeRequest {
  return { channel: channelOf(params) };
}

export function parsePublish(params: Params): PublishRequest & { dataJson: string } {
  const channel = channelOf(params);
  if (!('data' in params) || params['data'] === undefined) throw bad('"data" is required');
  return { channel, data: params['data'] as PublishRequest['data'], dataJson: stringifyData(params['data']) };
}

/** JSON text of publication data; data nested too deeply to serialise is the client's error, not ours. */
function stringifyData(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (err instanceof RangeError) throw bad('"data" is nested too deeply');
    throw err;
  }
}

export function parseHistory(params: Params): HistoryRequest {
  const channel = channelOf(params);
  const since = optionalPosition(params, 'since');
  const limit = params['limit'];
  if (limit !== undefined && !isOffset(limit)) throw bad('"limit" must be an integer >= 0');
  const reverse = optionalBoolean(params, 'reverse');
  return {
    channel,
    ...(since === undefined ? {} : { since }),
    ...(limit === undefined ? {} : { limit }),
    ...(reverse === undefined ? {} : { reverse }),
  };
}

export function parseRefresh(params: Params): RefreshRequest {
  return { token: requiredString(params, 'token', TOKEN_MAX) };
}

/** Most clients one presence page may ask for. */
export const PRESENCE_MAX_LIMIT = 1000;
const PRESENCE_DEFAULT_LIMIT = 100;

export function parsePresence(params: Params): { channel: string; cursor?: string; limit: number } {
  const channel = channelOf(params);
  const cursor = optionalString(params, 'cursor', 256);
  const limit = params['limit'];
  if (
    limit !== undefined &&
    (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > PRESENCE_MAX_LIMIT)
  ) {
    throw bad(`"limit" must be an integer from 1 to ${PRESENCE_MAX_LIMIT}`);
  }
  return { channel, ...(cursor === undefined ? {} : { cursor }), limit: limit ?? PRESENCE_DEFAULT_LIMIT };
}

export function parsePresenceStats(params: Params): { channel: string } {
  return { channel: channelOf(params) };
}
