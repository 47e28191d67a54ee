/** The small HTTP surface the peer servers share: a JSON body reader and the publish request's shape. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface PeerPublication {
  readonly channel: string;
  readonly data: unknown;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Reads and parses a JSON request body. */
export function readJsonBody(
  request: IncomingMessage,
  done: (error: Error | undefined, body?: unknown) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  request.on('end', () => {
    if (size > MAX_BODY_BYTES) return done(new Error('body too large'));
    try {
      done(undefined, JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      done(new Error('body is not JSON'));
    }
  });
  request.on('error', (error) => done(error));
}

/** The publications of a `{"publications": [...]}` body; malformed items are skipped. */
export function publicationsOf(body: unknown): PeerPublication[] {
  const list = (body as { publications?: unknown } | null)?.publications;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (item): item is PeerPublication =>
      typeof item === 'object' && item !== null && typeof (item as PeerPublication).channel === 'string',
  );
}

export function answer(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

/** The same listen backlog as Herald's (Node's default of 511 drops handshakes in a reconnect storm). */
export const PEER_BACKLOG = 4096;

/**
 * The HTTP server every peer runs: `GET /readyz`, and `POST /publish` with
 * `{"publications": [{"channel", "data"}, …]}`, which hands each publication to `publish`.
 */
export function createPeerServer(publish: (channel: string, data: unknown) => void): Server {
  return createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/readyz') return answer(response, 200, '{"ok":true}');
    if (request.method !== 'POST' || request.url !== '/publish') return answer(response, 404, '{}');
    readJsonBody(request, (error, body) => {
      if (error !== undefined) return answer(response, 400, JSON.stringify({ error: error.message }));
      const publications = publicationsOf(body);
      for (const { channel, data } of publications) publish(channel, data);
      answer(response, 200, `{"published":${publications.length}}`);
    });
  });
}
