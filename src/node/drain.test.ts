import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DisconnectCode } from '@herald/protocol';
import { SessionDrain, type DrainableSession } from './drain.ts';

/** A session that records when and how it was closed; a busy one closes only when told its commands ended. */
class FakeSession implements DrainableSession {
  closed = false;
  closedAt: number | undefined;
  code: number | undefined;
  asked = false;
  forced = false;
  readonly #busy: boolean;

  constructor(busy = false) {
    this.#busy = busy;
  }

  disconnect(code: number): void {
    this.forced = this.asked;
    this.#close(code);
  }

  disconnectAfterCommands(code: number): void {
    this.asked = true;
    if (!this.#busy) this.#close(code);
    else this.code = code;
  }

  /** The busy session's commands ended. */
  commandsDone(): void {
    if (this.asked && !this.closed) this.#close(this.code ?? 0);
  }

  #close(code: number): void {
    this.closed = true;
    this.closedAt = Date.now();
    this.code = code;
  }
}

function drainOf(sessions: FakeSession[], periodMs: number, commandsGraceMs?: number) {
  const open = () => sessions.filter((s) => !s.closed).length;
  return new SessionDrain(sessions, {
    periodMs,
    open,
    tickMs: 50,
    ...(commandsGraceMs === undefined ? {} : { commandsGraceMs }),
  });
}

describe('SessionDrain', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes the i-th of n sessions at i × period / n, with 3001', async () => {
    const sessions = Array.from({ length: 20 }, () => new FakeSession());
    let done = false;
    void drainOf(sessions, 1000)
      .run()
      .then(() => (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(sessions.map((s) => s.closedAt)).toEqual(sessions.map((_s, i) => i * 50));
    expect(sessions.every((s) => s.code === DisconnectCode.SHUTDOWN)).toBe(true);
    expect(done).toBe(true);
  });

  it('closes everyone at once with a period of 0', async () => {
    const sessions = Array.from({ length: 5 }, () => new FakeSession());
    const done = drainOf(sessions, 0).run();
    expect(sessions.every((s) => s.closedAt === 0)).toBe(true);
    await done;
  });

  it('skips sessions that closed by themselves, and ends when none is left', async () => {
    const sessions = Array.from({ length: 10 }, () => new FakeSession());
    let done = false;
    void drainOf(sessions, 10_000)
      .run()
      .then(() => (done = true));
    expect(sessions[0]?.asked).toBe(true);
    for (const session of sessions.slice(1)) session.closed = true; // the clients left
    await vi.advanceTimersByTimeAsync(50);
    expect(done).toBe(true);
    expect(sessions.slice(1).some((s) => s.asked)).toBe(false);
  });

  it('waits for a busy session to answer its commands, and closes it anyway after the grace', async () => {
    const finishes = new FakeSession(true);
    const hangs = new FakeSession(true);
    let done = false;
    void drainOf([finishes, hangs], 0, 1000)
      .run()
      .then(() => (done = true));
    expect(finishes.asked && hangs.asked).toBe(true);
    expect(finishes.closed || hangs.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    finishes.commandsDone();
    expect(finishes.closedAt).toBe(200);
    await vi.advanceTimersByTimeAsync(500);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(350);
    expect(hangs).toMatchObject({ closed: true, forced: true, code: DisconnectCode.SHUTDOWN });
    expect(done).toBe(true);
  });

  it('stops where it is when stopped', async () => {
    const sessions = Array.from({ length: 4 }, () => new FakeSession());
    const drain = drainOf(sessions, 1000);
    const done = drain.run();
    drain.stop();
    await done;
    await vi.advanceTimersByTimeAsync(2000);
    expect(sessions.filter((s) => s.closed)).toHaveLength(1);
  });
});
