/**
 * The SSE transport: the same protocol over an `EventSource` stream from the server plus HTTP POSTs
 * to it, for networks where WebSocket cannot connect.
 *
 * The client sends its first frame (connect and subscribes) as soon as the transport reports `open`;
 * this transport reports `open` at once and carries that frame's `connect` in the stream's URL. The
 * stream's first event gives the session's id and key, after which every frame is POSTed, one at a
 * time and in order; replies come back on the stream. The browser's own reconnect is turned off: the
 * client reconnects itself, with backoff, and recovers its subscriptions from their positions.
 */
import type { Transport, TransportEvents } from './transport.ts';

/** The part of the `EventSource` API the transport uses (the browser's, or a Node.js package's). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;
export type FetchFunction = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
) => Promise<{ ok: boolean; status: number }>;

/** Reported when the stream fails or a POST is refused: the client reconnects and recovers. */
const TRANSPORT_FAILED = 1006;
/** The client answers server pings; an SSE session does not wait for pongs, so they are not sent. */
const PONG = '{"pong":{}}';

export function openSse(
  url: string,
  EventSource: EventSourceConstructor,
  fetch: FetchFunction,
  events: TransportEvents,
): Transport {
  let source: EventSourceLike | undefined;
  let commandsUrl: string | undefined;
  let closed = false;
  /** Frames waiting for the session key, then the chain of POSTs that keeps them in order. */
  const waiting: string[] = [];
  let posting: Promise<void> = Promise.resolve();

  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    source?.close();
    events.close(code, reason);
  };

  const post = (frame: string) => {
    const target = commandsUrl as string;
    posting = posting.then(async () => {
      if (closed) return;
      try {
        const response = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: frame,
        });
        if (!response.ok) finish(TRANSPORT_FAILED, `commands refused with HTTP ${response.status}`);
      } catch (err) {
        finish(TRANSPORT_FAILED, `commands failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  };

  const start = (firstFrame: string) => {
    // Only `connect` rides in the URL (URLs have length limits, and proxies log them); the rest of
    // the first frame (the subscribes) is POSTed once the session is known.
    const [connect = '', ...rest] = firstFrame.split('\n');
    if (rest.length > 0) waiting.push(rest.join('\n'));
    const streamUrl = new URL(url);
    streamUrl.searchParams.set('commands', connect);
    source = new EventSource(streamUrl.toString());
    source.addEventListener('session', (event) => {
      const session = parseEvent<{ client: string; key: string }>(event.data);
      if (session === undefined) return finish(TRANSPORT_FAILED, 'the server sent a malformed session event');
      const { client, key } = session;
      const target = new URL(url);
      target.pathname = `${target.pathname.replace(/\/$/, '')}/commands`;
      target.search = new URLSearchParams({ client, key }).toString();
      commandsUrl = target.toString();
      for (const frame of waiting.splice(0)) post(frame);
    });
    source.addEventListener('message', (event) => {
      if (!closed && typeof event.data === 'string') events.frame(event.data);
    });
    source.addEventListener('close', (event) => {
      const closed = parseEvent<{ code: number; reason: string }>(event.data);
      if (closed === undefined) finish(TRANSPORT_FAILED, 'the server sent a malformed close event');
      else finish(closed.code, closed.reason);
    });
    source.addEventListener('error', () => finish(TRANSPORT_FAILED, 'the event stream failed'));
  };

  queueMicrotask(() => {
    if (!closed) events.open();
  });
  return {
    name: 'sse',
    send(frame) {
      if (closed) return;
      const messages = frame.split('\n').filter((message) => message !== PONG);
      if (messages.length === 0) return;
      const commands = messages.join('\n');
      if (source === undefined) start(commands);
      else if (commandsUrl === undefined) waiting.push(commands);
      else post(commands);
    },
    close(code, reason) {
      finish(code, reason);
    },
  };
}

/** The SSE endpoint of a server, from its WebSocket URL (`ws://host/connection/websocket`). */
export function sseUrlOf(websocketUrl: string): string {
  const url = new URL(websocketUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = url.pathname.replace(/\/connection\/websocket\/?$/, '/connection/sse');
  return url.toString();
}

function parseEvent<T>(data: unknown): T | undefined {
  try {
    return JSON.parse(String(data)) as T;
  } catch {
    return undefined;
  }
}
