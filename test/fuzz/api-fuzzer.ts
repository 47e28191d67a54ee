/**
 * The HTTP fuzzer, driven by the OpenAPI document (GET /api/openapi.json): for every route and
 * method, requests with a missing or garbled Authorization header, other methods and paths, invalid
 * query parameters, and invalid bodies (wrong types, missing and unknown fields, huge, deeply
 * nested, invalid JSON, wrong content types); then malformed HTTP, the dashboard's routes and the
 * SSE endpoints. Every answer must be a 4xx (never a 5xx) with `{"error": {"code": "HERALD_ERR_…",
 * "message"}}` and the status of the code's catalogue entry; requests that may be valid are only
 * held to "not a 5xx, and JSON".
 */
import { dashboardCases, sseRequestCases } from './dashboard-cases.ts';
import { runCase, JSON_TYPE, type ApiFuzzOptions, type ApiFuzzResult, type Case } from './http-answers.ts';
import { rawRequest } from './http-client.ts';
import { globalCases, operationCases } from './openapi-cases.ts';
import { deriveSeed, Rng } from './prng.ts';
import { operationsOf } from './schema-values.ts';
import { fuzzSseCommands, fuzzSseStreams } from './sse-fuzzer.ts';
import { Tally, Violations } from './tally.ts';

export type { ApiFuzzOptions, ApiFuzzResult } from './http-answers.ts';

export async function fuzzApi(options: ApiFuzzOptions): Promise<ApiFuzzResult> {
  const started = Date.now();
  const result: ApiFuzzResult = {
    requests: 0,
    operations: 0,
    statuses: new Tally(),
    codes: new Tally(),
    areas: new Tally(),
    violations: new Violations(),
    sseEvents: new Tally(),
    durationMs: 0,
  };
  const document = await fetchDocument(options.url);
  const operations = operationsOf(document);
  result.operations = operations.length;
  const auth = `Authorization: apikey ${options.apiKey}`;
  const cookie = await signIn(options);
  const cases: Case[] = [];
  operations.forEach((operation, index) => {
    const rng = new Rng(deriveSeed(options.seed, 1_000_000 + index));
    cases.push(...operationCases(operation, auth, cookie, rng, options.rounds));
  });
  cases.push(...globalCases(auth));
  cases.push(...dashboardCases(cookie, new Rng(deriveSeed(options.seed, 2_000_000))));
  cases.push(...sseRequestCases(options));
  // Runs a few at a time: the answers do not depend on each other.
  let next = 0;
  const worker = async () => {
    for (let c = cases[next++]; c !== undefined; c = cases[next++]) {
      await runCase(options.port, c, result);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await fuzzSseStreams(options, result);
  await fuzzSseCommands(options, result);
  result.durationMs = Date.now() - started;
  return result;
}

async function fetchDocument(url: string): Promise<unknown> {
  const response = await fetch(`${url}/api/openapi.json`);
  if (!response.ok) throw new Error(`GET /api/openapi.json answered ${response.status}`);
  return response.json();
}

async function signIn(options: ApiFuzzOptions): Promise<string> {
  const response = await rawRequest(options.port, {
    method: 'POST',
    target: '/dashboard/api/session',
    headers: [JSON_TYPE],
    body: JSON.stringify({ secret: options.apiKey }),
  });
  const setCookie = response?.headers['set-cookie'];
  if (response?.status !== 200 || setCookie === undefined) throw new Error('dashboard sign-in failed');
  return setCookie.split(';')[0] ?? '';
}
