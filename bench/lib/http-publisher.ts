/**
 * `POST /api/publish` over kept-alive HTTP/1.1 connections. Uses node:http rather than `fetch`: the
 * load generator shares two cores with the servers, and node:http costs it noticeably less per request.
 */
import { Agent, request } from 'node:http';

/** The outcome of one publish. */
export interface PublishOutcome {
  /** HTTP status; 0 when the request failed before a response (connection error, timeout). */
  readonly status: number;
  /** The publication's offset from a 2xx answer; undefined otherwise. */
  readonly offset: number | undefined;
  /** The response body or the error, for non-2xx outcomes. */
  readonly detail: string;
}

const OFFSET = /"offset":(\d+)/;

export class HttpPublisher {
  readonly #url: URL;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  /** `maxSockets` caps the connections to this node; requests beyond it wait in the agent's queue. */
  constructor(baseUrl: string, apiKey: string, maxSockets: number, timeoutMs = 10_000) {
    this.#url = new URL('/api/publish', baseUrl);
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.#headers = { authorization: `apikey ${apiKey}`, 'content-type': 'application/json' };
    this.#timeoutMs = timeoutMs;
  }

  /** Publishes one JSON body (`{"channel":…,"data":…}`); never rejects. */
  publish(body: string): Promise<PublishOutcome> {
    return new Promise((resolve) => {
      const req = request(
        this.#url,
        {
          method: 'POST',
          agent: this.#agent,
          headers: { ...this.#headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('error', (error) => resolve({ status: 0, offset: undefined, detail: error.message }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const ok = status >= 200 && status < 300;
            const match = ok ? OFFSET.exec(text) : null;
            resolve({
              status,
              offset: match?.[1] === undefined ? undefined : Number(match[1]),
              detail: text,
            });
          });
        },
      );
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (error) => resolve({ status: 0, offset: undefined, detail: error.message }));
      req.end(body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}
