/** A test client for Herald's SSE transport over real HTTP: reads the event stream as it arrives. */

export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

export class SseStream {
  readonly events: SseEvent[] = [];
  readonly status: number;
  readonly headers: Headers;
  #closed = false;
  readonly #abort: AbortController;
  readonly done: Promise<void>;

  private constructor(response: Response, abort: AbortController) {
    this.status = response.status;
    this.headers = response.headers;
    this.#abort = abort;
    this.done = this.#read(response);
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    return new SseStream(response, abort);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages of the events without a type (one per `data` line), parsed. */
  messages(): Record<string, unknown>[] {
    return this.events
      .filter((event) => event.event === 'message')
      .flatMap((event) => event.data.split('\n'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The last event id seen, as a browser would send it back in Last-Event-ID. */
  lastEventId(): string | undefined {
    return this.events.findLast((event) => event.id !== undefined)?.id;
  }

  close(): void {
    this.#abort.abort();
  }

  async #read(response: Response): Promise<void> {
    const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
    if (reader === undefined) return;
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          this.#parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // aborted by close()
    } finally {
      this.#closed = true;
    }
  }

  #parse(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) this.events.push({ event, id, data: data.join('\n') });
  }
}
