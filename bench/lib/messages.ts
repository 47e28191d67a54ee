/**
 * The publications benchmarks send, and reading their timestamps back at a subscriber. Data is
 * `{"t":<intended send time>,"a":<actual send time>,"s":<sequence>,"p":"xxx…"}`, times in
 * milliseconds since the Unix epoch with microsecond decimals (`performance.timeOrigin +
 * performance.now()`), padded with `p` to a fixed size. Herald keeps data as the JSON text it was
 * given, so the keys arrive in this order and can be read without parsing the whole push.
 */

/** Milliseconds since the Unix epoch, with sub-millisecond precision and a monotonic clock. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Builds publish request bodies for one channel whose `data` is `dataBytes` long. */
export class MessageFactory {
  readonly #head: string;
  readonly #dataBytes: number;
  #pad = '';

  constructor(channel: string, dataBytes: number) {
    this.#head = `{"channel":${JSON.stringify(channel)},"data":`;
    this.#dataBytes = dataBytes;
  }

  /** The request body for publication `seq`, meant to be sent at `intended` and sent at `actual`. */
  body(seq: number, intended: number, actual: number): string {
    const data = `{"t":${intended.toFixed(3)},"a":${actual.toFixed(3)},"s":${seq},"p":"`;
    const padLength = Math.max(0, this.#dataBytes - data.length - 2);
    if (this.#pad.length !== padLength) this.#pad = 'x'.repeat(padLength);
    return `${this.#head}${data}${this.#pad}"}}`;
  }
}

/** The intended (`t`) and actual (`a`) send times in data that starts at `dataStart` of `line`. */
export function readTimes(line: string, dataStart: number): { intended: number; actual: number } {
  const tEnd = line.indexOf(',"a":', dataStart);
  const aEnd = line.indexOf(',', tEnd + 5);
  return {
    intended: Number(line.slice(dataStart + 5, tEnd)),
    actual: Number(line.slice(tEnd + 5, aEnd)),
  };
}
