/**
 * What the HTTP fuzzer sends and expects: a case is one raw request and whether it must be refused;
 * every answer is checked here. A refusal must be a 4xx with `{"error": {"code": "HERALD_ERR_…",
 * "message"}}` and the status of the code's catalogue entry; nothing may be a 5xx; an acceptance is
 * JSON.
 */
import { errorBodyProblem } from './expectations.ts';
import { rawRequest, sendRaw, type RawRequest, type RawResponse } from './http-client.ts';
import type { Tally, Violations } from './tally.ts';

export interface ApiFuzzOptions {
  readonly url: string;
  readonly port: number;
  readonly seed: number;
  readonly apiKey: string;
  /** Random body and query mutations per route, besides the fixed cases. */
  readonly rounds: number;
  /** Frames POSTed to an open SSE session. */
  readonly sseFrames: number;
  readonly maxFrameBytes: number;
  /** Fills `{{token:…}}` and `{{epoch:…}}` placeholders. */
  readonly fill: (text: string) => string;
  /** A valid client token, for SSE streams. */
  readonly token: string;
}

export interface ApiFuzzResult {
  requests: number;
  operations: number;
  readonly statuses: Tally;
  readonly codes: Tally;
  readonly areas: Tally;
  readonly violations: Violations;
  /** Error codes and close codes seen on SSE streams. */
  readonly sseEvents: Tally;
  durationMs: number;
}

export interface Case {
  readonly area: string;
  readonly name: string;
  readonly request: RawRequest;
  /** `4xx`: must be refused; `2xx`: must be accepted; `any`: must not fail (5xx). */
  readonly expect: '4xx' | '2xx' | 'any';
}

export const JSON_TYPE = 'Content-Type: application/json';

export async function runCase(port: number, c: Case, result: ApiFuzzResult): Promise<void> {
  const response =
    c.request.method === 'RAW'
      ? await sendRaw(port, Buffer.from(c.request.target, 'latin1'))
      : await rawRequest(port, c.request);
  result.requests++;
  result.areas.add(c.area);
  check(c, response, result);
}

export function check(c: Case, response: RawResponse | undefined, result: ApiFuzzResult): void {
  if (response?.resetWhileSending === true && c.expect !== '2xx') {
    result.statuses.add('reset while sending');
    return;
  }
  if (response === undefined || response.status === 0) {
    result.statuses.add('no answer');
    result.violations.add('no answer', c.name);
    return;
  }
  const { status } = response;
  result.statuses.add(String(status));
  if (status >= 500) result.violations.add('5xx', `${c.name}: ${status} ${response.body.slice(0, 200)}`);
  if (c.request.method === 'HEAD') return; // an answer to HEAD has no body
  if (status >= 400) {
    const problem = errorBodyProblem(status, response.headers['content-type'], response.body);
    if (problem !== undefined) result.violations.add('error body', `${c.name}: ${status} ${problem}`);
    else result.codes.add((JSON.parse(response.body) as { error: { code: string } }).error.code);
    if (c.expect === '2xx')
      result.violations.add('valid request refused', `${c.name}: ${status} ${response.body.slice(0, 200)}`);
    return;
  }
  if (c.expect === '4xx')
    result.violations.add('invalid request accepted', `${c.name}: ${status} ${response.body.slice(0, 200)}`);
  const noBody = c.request.method === 'HEAD' || status === 204;
  if (!noBody && !(response.headers['content-type'] ?? '').startsWith('application/json')) {
    result.violations.add(
      'non-JSON answer',
      `${c.name}: ${status} ${response.headers['content-type'] ?? '(none)'}`,
    );
  }
}
