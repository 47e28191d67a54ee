/**
 * The SSE part of the HTTP fuzzer: streams opened with odd parameters and generated `commands`, and
 * generated frames POSTed to open sessions; every event of every stream is checked (documented error
 * and close codes, JSON messages).
 */
import { request as httpRequest } from 'node:http';
import {
  CLOSE_CODES,
  ERROR_CODES,
  errorBodyProblem,
  INTERNAL_CLOSE_CODE,
  INTERNAL_ERROR_CODE,
} from './expectations.ts';
import { ConnectionScript } from './frames.ts';
import { check, type ApiFuzzOptions, type ApiFuzzResult } from './http-answers.ts';
import { rawRequest } from './http-client.ts';
import { percentEncoded } from './schema-values.ts';

/** An SSE stream being read: its events, checked as they come. */
class SseStream {
  readonly session: Promise<{ client: string; key: string } | undefined>;
  status = 0;
  closed = false;
  readonly #abort = new AbortController();
  readonly #result: ApiFuzzResult;
  readonly #name: string;

  constructor(
    options: ApiFuzzOptions,
    target: string,
    result: ApiFuzzResult,
    name: string,
    headers: Record<string, string> = {},
  ) {
    this.#result = result;
    this.#name = name;
    this.session = new Promise((resolve) => {
      const request = httpRequest(
        { host: '127.0.0.1', port: options.port, path: target, headers, signal: this.#abort.signal },
        (response) => {
          this.status = response.statusCode ?? 0;
          let body = '';
          let buffer = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (this.status !== 200) {
              body += chunk;
              return;
            }
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) !== -1) {
              const event = this.#event(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
              if (event !== undefined) resolve(event);
            }
          });
          response.on('end', () => {
            this.closed = true;
            if (this.status !== 200) {
              result.statuses.add(String(this.status));
              const problem = errorBodyProblem(this.status, response.headers['content-type'], body);
              if (this.status >= 500 || problem !== undefined) {
                result.violations.add(
                  'error body',
                  `${name}: ${this.status} ${problem ?? body.slice(0, 200)}`,
                );
              }
            }
            resolve(undefined);
          });
          response.on('error', () => resolve(undefined));
        },
      );
      request.on('error', () => {
        this.closed = true;
        resolve(undefined);
      });
      request.end();
    });
  }

  /** Checks one event; returns the session when it is the `session` event. */
  #event(text: string): { client: string; key: string } | undefined {
    let type = 'message';
    const data: string[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    const violations = this.#result.violations;
    if (type === 'session') return JSON.parse(data.join('')) as { client: string; key: string };
    if (type === 'close') {
      const { code } = JSON.parse(data.join('')) as { code: number };
      this.#result.sseEvents.add(`close ${code}`);
      if (!CLOSE_CODES.has(code) || code === INTERNAL_CLOSE_CODE)
        violations.add('SSE close', `${this.#name}: ${code}`);
      this.closed = true;
      return undefined;
    }
    for (const line of data) {
      let message: { error?: { code?: unknown } };
      try {
        message = JSON.parse(line) as { error?: { code?: unknown } };
      } catch {
        violations.add('SSE invalid JSON', `${this.#name}: ${line.slice(0, 200)}`);
        continue;
      }
      if (message.error === undefined) continue;
      const code = message.error.code;
      this.#result.sseEvents.add(`error ${String(code)}`);
      if (typeof code !== 'number' || !ERROR_CODES.has(code) || code === INTERNAL_ERROR_CODE) {
        violations.add('SSE error', `${this.#name}: ${line.slice(0, 200)}`);
      }
    }
    return undefined;
  }

  stop(): void {
    this.#abort.abort();
  }
}

/** Streams opened with odd but acceptable parameters: the protocol answers on the stream. */
export async function fuzzSseStreams(options: ApiFuzzOptions, result: ApiFuzzResult): Promise<void> {
  const token = encodeURIComponent(options.token);
  const targets: [string, string, Record<string, string>][] = [
    ['anonymous stream', '/connection/sse', {}],
    ['stream with a garbage token', '/connection/sse?token=garbage', {}],
    [
      'stream with a bad channel',
      `/connection/sse?token=${token}&channel=${encodeURIComponent('bad channel!')}`,
      {},
    ],
    [
      'stream with 300 channels',
      `/connection/sse?token=${token}&${Array.from({ length: 300 }, (_, i) => `channel=chat:c${i}`).join('&')}`,
      {},
    ],
    [
      'stream with since',
      `/connection/sse?token=${token}&channel=chat:a&since=${encodeURIComponent('{"chat:a":[999999,"x"]}')}`,
      {},
    ],
    [
      'stream with commands',
      `/connection/sse?commands=${encodeURIComponent('{"id":1,"subscribe":{}}\nnot json\n{"id":2')}`,
      {},
    ],
    [
      'stream with a Bearer token',
      '/connection/sse?channel=chat:a',
      { authorization: `Bearer ${options.token}` },
    ],
  ];
  // Streams opened with the first frames of generated scripts as their `commands`.
  for (let i = 0; targets.length < 27 && i < 200; i++) {
    const script = new ConnectionScript(options.seed, 4_000_000 + i, {
      maxFrameBytes: options.maxFrameBytes,
    });
    const texts: string[] = [];
    for (let frame = script.next(); frame !== undefined && texts.length < 3; frame = script.next()) {
      if (typeof frame.payload === 'string' && !frame.binary) texts.push(options.fill(frame.payload));
    }
    const commands = percentEncoded(texts.join('\n'));
    if (commands.length < 12_000)
      targets.push([`stream with generated commands #${i}`, `/connection/sse?commands=${commands}`, {}]);
  }
  const streams = targets.map(
    ([name, target, headers]) => new SseStream(options, target, result, name, headers),
  );
  result.requests += streams.length;
  result.areas.add('sse', streams.length);
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const stream of streams) {
    stream.stop();
    if (stream.status === 200) result.statuses.add('200');
    else if (stream.status === 0) result.violations.add('no answer', 'SSE stream');
  }
}

/** Frames of the protocol fuzzer's scripts POSTed to open SSE sessions. */
export async function fuzzSseCommands(options: ApiFuzzOptions, result: ApiFuzzResult): Promise<void> {
  const open = () =>
    new SseStream(
      options,
      `/connection/sse?token=${encodeURIComponent(options.token)}`,
      result,
      'SSE session',
    );
  let stream = open();
  let session = await stream.session;
  let script = new ConnectionScript(options.seed, 3_000_000, { maxFrameBytes: options.maxFrameBytes });
  let scripts = 1;
  for (let sent = 0; sent < options.sseFrames && session !== undefined;) {
    const frame = script.next();
    if (frame === undefined || stream.closed) {
      stream.stop();
      stream = open();
      session = await stream.session;
      script = new ConnectionScript(options.seed, 3_000_000 + scripts++, {
        maxFrameBytes: options.maxFrameBytes,
      });
      continue;
    }
    if (frame.binary || typeof frame.payload !== 'string') continue;
    sent++;
    const contentType = ['text/plain', 'text/plain; charset=utf-8', 'application/json'][
      sent % 7 === 0 ? 2 : sent % 2
    ];
    const response = await rawRequest(options.port, {
      method: 'POST',
      target: `/connection/sse/commands?client=${session.client}&key=${session.key}`,
      headers: [`Content-Type: ${contentType ?? 'text/plain'}`],
      body: options.fill(frame.payload),
    });
    result.requests++;
    result.areas.add('sse');
    check(
      {
        area: 'sse',
        name: `SSE commands (${frame.kind})`,
        request: { method: 'POST', target: '' },
        expect: 'any',
      },
      response,
      result,
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  stream.stop();
  if (session === undefined) result.violations.add('SSE', 'an SSE session with a valid token did not open');
}
