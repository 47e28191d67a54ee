/**
 * The Server-Sent Events transport, for clients that cannot or may not use WebSocket (proxies that
 * break upgrades, locked-down networks, plain `EventSource` in a page).
 *
 * `GET /connection/sse` opens a stream. The client names what it wants either simply —
 * `token` (or `Authorization: Bearer`), one `channel` parameter per channel, optionally `since` — or,
 * as the SDK does, with `commands`: the first frame it would send over WebSocket (connect, then
 * subscribes). Every frame the session sends becomes one event whose `data` lines are the frame's
 * messages and whose `id` is the stream position of every subscribed channel, so a browser
 * reconnecting by itself sends it back as `Last-Event-ID`, and the subscribes of the new stream
 * recover from there: no gap, no duplicate.
 *
 * The stream is one-way. Commands that need an answer (publish, history, subscribe, unsubscribe,
 * refresh) are POSTed to `/connection/sse/commands` with the session's id and key from the stream's
 * first event (`event: session`); their replies arrive on the stream like any other message.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StreamPosition } from '@herald/protocol';
import { HeraldError } from '../core/errors.ts';
import { errorBody, toApiError } from '../api/errors.ts';
import { ClientSession, type Transport } from '../node/client-session.ts';
import type { HeraldNode } from '../node/node.ts';
import type { DashboardSessions } from '../ops/dashboard-session.ts';
import { fromDashboard, originAllowed } from './origin.ts';

export const SSE_PATH = '/connection/sse';
export const SSE_COMMANDS_PATH = '/connection/sse/commands';
/** How long a browser waits before reconnecting a dropped stream by itself, ms. */
const RETRY_MS = 1000;

interface OpenSession {
  readonly session: ClientSession;
  readonly key: Buffer;
}

interface StreamQuery {
  readonly token?: string;
  readonly channel?: string | string[];
  readonly since?: string;
  readonly commands?: string;
}

interface CommandsQuery {
  readonly client?: string;
  readonly key?: string;
}

/** Registers the SSE routes. */
export async function registerSse(
  app: FastifyInstance,
  { node, dashboard }: { node: HeraldNode; dashboard?: DashboardSessions },
): Promise<void> {
  const open = new Map<string, OpenSession>();
  await app.register(async (scope) => {
    scope.setErrorHandler((err: unknown, request, reply) => {
      const error = toApiError(err, request.routeOptions.bodyLimit);
      if (error.code === 'HERALD_ERR_INTERNAL') request.log.error({ err }, 'SSE request failed');
      return reply.code(error.httpStatus).send(errorBody(error));
    });
    scope.get(SSE_PATH, { schema: { hide: true } }, (request, reply) =>
      openStream(node, open, request, reply, fromDashboard(request.raw, dashboard)),
    );
    scope.post(
      SSE_COMMANDS_PATH,
      { schema: { hide: true }, bodyLimit: node.config.maxFrameBytes },
      async (request, reply) => {
        allowOrigin(node, request, reply);
        const { client, key } = request.query as CommandsQuery;
        const entry = client === undefined ? undefined : open.get(client);
        if (entry === undefined || key === undefined || !sameKey(entry.key, key)) {
          throw new HeraldError(
            'HERALD_ERR_UNKNOWN_SESSION',
            'no open SSE session with this client id and key on this node (it closed, or the request ' +
              'reached another node: SSE needs session affinity at the load balancer)',
          );
        }
        if (typeof request.body !== 'string') {
          throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'send the commands as text/plain, one per line');
        }
        entry.session.receive(request.body);
        return reply.code(202).send({});
      },
    );
  });
}

function openStream(
  node: HeraldNode,
  open: Map<string, OpenSession>,
  request: FastifyRequest,
  reply: FastifyReply,
  dashboard: number | undefined,
): void {
  allowOrigin(node, request, reply);
  const frame = initialFrame(request, node.config.maxFrameBytes);
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // Stops nginx (and proxies that follow its header) from buffering the stream.
    'x-accel-buffering': 'no',
  });
  const connection = new SseConnection(response);
  const session = new ClientSession(node, connection, 'sse', dashboard);
  connection.positions = () => session.streamPositions();
  const key = randomBytes(18);
  open.set(session.id, { session, key });
  response.write(
    `retry: ${RETRY_MS}\nevent: session\ndata: ${JSON.stringify({ client: session.id, key: key.toString('base64url') })}\n\n`,
  );
  response.on('close', () => {
    open.delete(session.id);
    session.onTransportClosed();
  });
  node.acceptSession(session);
  session.receive(frame);
}

/**
 * The commands that open the session: the client's own (`commands`), or connect and subscribes built
 * from `token` and `channel`. Positions in `Last-Event-ID` (else `since`) become the subscribes' `since`.
 */
function initialFrame(request: FastifyRequest, maxFrameBytes: number): string {
  const query = request.query as StreamQuery;
  const resume =
    positionsParam(request.headers['last-event-id'], 'Last-Event-ID') ?? positionsParam(query.since, 'since');
  if (query.commands !== undefined) {
    if (typeof query.commands !== 'string')
      throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'give "commands" once');
    if (Buffer.byteLength(query.commands) > maxFrameBytes) {
      throw new HeraldError(
        'HERALD_ERR_PAYLOAD_TOO_LARGE',
        `"commands" is larger than the frame limit (${maxFrameBytes} bytes)`,
      );
    }
    return resume === undefined ? query.commands : resumeSubscribes(query.commands, resume);
  }
  const token = bearerToken(request) ?? query.token;
  const channels = query.channel === undefined ? [] : [query.channel].flat();
  const commands = [JSON.stringify({ id: 1, connect: token === undefined ? {} : { token } })];
  channels.forEach((channel, index) => {
    const since = resume?.get(channel);
    commands.push(
      JSON.stringify({ id: index + 2, subscribe: since === undefined ? { channel } : { channel, since } }),
    );
  });
  return commands.join('\n');
}

/** Sets `since` on the frame's subscribes to channels that `positions` names. */
function resumeSubscribes(frame: string, positions: Map<string, StreamPosition>): string {
  return frame
    .split('\n')
    .map((line) => {
      let command: unknown;
      try {
        command = JSON.parse(line);
      } catch {
        return line; // the session answers it with its own error
      }
      const subscribe = (command as { subscribe?: { channel?: unknown } } | null)?.subscribe;
      if (typeof subscribe?.channel !== 'string') return line;
      const since = positions.get(subscribe.channel);
      if (since === undefined) return line;
      return JSON.stringify({ ...(command as object), subscribe: { ...subscribe, since } });
    })
    .join('\n');
}

/** Parses positions as sent in event ids: `{"<channel>":[offset,"epoch"],…}`. */
export function positionsParam(value: unknown, name: string): Map<string, StreamPosition> | undefined {
  if (value === undefined || value === '') return undefined;
  const bad = () =>
    new HeraldError('HERALD_ERR_BAD_REQUEST', `"${name}" must be stream positions as sent in event ids`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch {
    throw bad();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  const positions = new Map<string, StreamPosition>();
  for (const [channel, position] of Object.entries(parsed)) {
    if (!Array.isArray(position) || position.length !== 2) throw bad();
    const [offset, epoch] = position as unknown[];
    if (
      typeof offset !== 'number' ||
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      typeof epoch !== 'string'
    )
      throw bad();
    positions.set(channel, { offset, epoch });
  }
  return positions;
}

/** Formats positions for an event id. */
export function formatPositions(positions: ReadonlyMap<string, StreamPosition>): string {
  const entries: Record<string, [number, string]> = {};
  for (const [channel, { offset, epoch }] of positions) entries[channel] = [offset, epoch];
  return JSON.stringify(entries);
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null)
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"');
  return match[1];
}

/** The same origin rule as WebSocket connections, and CORS headers for the origins allowed. */
function allowOrigin(node: HeraldNode, request: FastifyRequest, reply: FastifyReply): void {
  if (!originAllowed(request.raw, node.config.allowedOrigins)) {
    throw new HeraldError('HERALD_ERR_PERMISSION_DENIED', 'origin not allowed');
  }
  const origin = request.headers.origin;
  if (origin !== undefined) reply.header('access-control-allow-origin', origin).header('vary', 'origin');
}

function sameKey(expected: Buffer, given: string): boolean {
  const actual = Buffer.from(given, 'base64url');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A session's transport over one SSE response: each frame is one event, its messages one `data`
 * line each (a JSON message never holds a raw newline), its id the session's stream positions.
 */
class SseConnection implements Transport {
  readonly #response: ServerResponse;
  positions: () => ReadonlyMap<string, StreamPosition> = () => new Map();

  constructor(response: ServerResponse) {
    this.#response = response;
  }

  get answersPings(): boolean {
    return false;
  }

  get bufferedAmount(): number {
    return this.#response.writableLength;
  }

  send(frame: Buffer): void {
    if (this.#response.writableEnded) return;
    const positions = this.positions();
    const id = positions.size === 0 ? '' : `id: ${formatPositions(positions)}\n`;
    this.#response.write(`${id}data: ${frame.toString().replaceAll('\n', '\ndata: ')}\n\n`);
  }

  close(code: number, reason: string): void {
    if (this.#response.writableEnded) return;
    this.#response.end(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
  }

  terminate(): void {
    this.#response.destroy();
  }
}
