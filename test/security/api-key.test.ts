/**
 * Guessing the API key by timing. If the check stopped at the first wrong character, a guess sharing
 * a long prefix with the key would take measurably longer than one sharing nothing, and the key could
 * be found a character at a time. Herald compares SHA-256 digests with `timingSafeEqual`, so the work
 * is the same for every wrong key — also on a kept-alive connection that already presented the right
 * one (its cached header is compared in constant time too).
 *
 * The statistics are made robust: the variants are measured in interleaved batches (so a slow moment
 * hits both) and compared by their medians, with a generous margin — the two guesses do the very same
 * work, within about 2%, while a character-by-character comparison of this 2048-character key would
 * make the prefix guess slower by far more than the margin. A comparison that leaks less than that
 * (V8's own string `===`, a few nanoseconds) is beyond any timing test: the spy below checks the
 * mechanism itself.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { apiKeyCheck } from '../../src/api/auth.ts';
import { startTestHerald, type TestHerald } from '../helpers/herald.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

/** A long key, so that a prefix-dependent comparison would have many characters to be slow on. */
const KEY = crypto.randomBytes(1536).toString('base64url'); // 2048 characters
const PREFIX_GUESS = `${KEY.slice(0, -1)}${KEY.endsWith('A') ? 'B' : 'A'}`; // wrong in the last character
const NOTHING_GUESS = (KEY.startsWith('A') ? 'B' : 'A').repeat(KEY.length); // wrong from the first

function fakeRequest(authorization: string, socket: object): FastifyRequest {
  return {
    headers: { authorization },
    raw: { socket, headers: { authorization } },
  } as unknown as FastifyRequest;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/**
 * Runs each variant `rounds` times in batches of `batch` calls, interleaved in alternating order, and
 * returns each variant's median time per call, ns.
 */
async function medians(variants: (() => Promise<unknown>)[], rounds: number, batch: number) {
  const samples = variants.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants.keys() : [...variants.keys()].reverse();
    for (const index of order) {
      const run = variants[index] as () => Promise<unknown>;
      const start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) await run().catch(() => undefined);
      samples[index]?.push(Number(process.hrtime.bigint() - start) / batch);
    }
  }
  return samples.map(median);
}

/** Relative difference of two medians. */
const spread = (a: number, b: number) => Math.abs(a - b) / Math.min(a, b);

describe('the API key check, called directly', () => {
  const check = apiKeyCheck(KEY);
  const call = (key: string, socket: object) =>
    check.call(undefined as never, fakeRequest(`apikey ${key}`, socket), undefined as never);

  it('refuses both guesses and accepts the key', async () => {
    await expect(call(PREFIX_GUESS, {})).rejects.toMatchObject({ code: 'HERALD_ERR_INVALID_API_KEY' });
    await expect(call(NOTHING_GUESS, {})).rejects.toMatchObject({ code: 'HERALD_ERR_INVALID_API_KEY' });
    await expect(call(KEY, {})).resolves.toBeUndefined();
  });

  it('takes as long for a guess sharing all but one character as for one sharing none', async () => {
    const socket = {};
    const [prefix = 0, nothing = 0] = await medians(
      [() => call(PREFIX_GUESS, socket), () => call(NOTHING_GUESS, socket)],
      120,
      100,
    );
    expect(spread(prefix, nothing), `prefix ${prefix} ns, nothing ${nothing} ns`).toBeLessThan(0.15);
  });

  it('takes as long for either guess on a connection that already presented the right key', async () => {
    const socket = {};
    await call(KEY, socket);
    const [prefix = 0, nothing = 0] = await medians(
      [() => call(PREFIX_GUESS, socket), () => call(NOTHING_GUESS, socket)],
      120,
      100,
    );
    expect(spread(prefix, nothing), `prefix ${prefix} ns, nothing ${nothing} ns`).toBeLessThan(0.15);
    // And the right key still passes there.
    await expect(call(KEY, socket)).resolves.toBeUndefined();
  });

  it('compares fixed-size SHA-256 digests with timingSafeEqual, whatever the length of the guess', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    for (const guess of ['short-guess', PREFIX_GUESS, NOTHING_GUESS, 'x'.repeat(5000)]) {
      spy.mockClear();
      await call(guess, {}).catch(() => undefined);
      expect(spy).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0] as [Buffer, Buffer];
      expect([a.length, b.length]).toEqual([32, 32]);
    }
    // On a connection that passed with the key, a guess of another length costs a full comparison too.
    const socket = {};
    await call(KEY, socket);
    spy.mockClear();
    await call('short-guess', socket).catch(() => undefined);
    const lengths = spy.mock.calls.map(([a, b]) => [(a as Buffer).length, (b as Buffer).length]);
    expect(lengths[0]).toEqual([`apikey ${KEY}`.length, `apikey ${KEY}`.length]);
    expect(lengths[1]).toEqual([32, 32]);
  });
});

describe('the API key over HTTP', () => {
  let herald: TestHerald;
  beforeAll(async () => {
    herald = await startTestHerald({ apiKey: KEY });
  });
  afterAll(() => herald.close());

  const info = (key: string) =>
    fetch(`${herald.url}/api/info`, { headers: { authorization: `apikey ${key}` } }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
    );

  it('answers a long-prefix guess and a no-prefix guess in no measurably different time', async () => {
    expect(await info(PREFIX_GUESS)).toBe(401);
    expect(await info(NOTHING_GUESS)).toBe(401);
    expect(await info(KEY)).toBe(200);
    const [prefix = 0, nothing = 0] = await medians(
      [() => info(PREFIX_GUESS), () => info(NOTHING_GUESS)],
      60,
      10,
    );
    // A network round trip is noisy: the margin is generous, and still far below what a
    // character-by-character comparison of a guessable key would need to be found over a network.
    expect(spread(prefix, nothing), `prefix ${prefix} ns, nothing ${nothing} ns`).toBeLessThan(0.5);
  });
});
