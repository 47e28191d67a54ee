/**
 * The graceful drain of a node that shuts down: its client sessions are told to reconnect to another
 * node (3001) a few at a time, spread evenly over the drain period, so the other nodes take them over
 * gradually instead of in one stampede. One timer serves the whole drain, not one per session.
 */
import { DisconnectCode } from '@herald/protocol';

/** What the drain needs of a session (in practice a `ClientSession`). */
export interface DrainableSession {
  readonly closed: boolean;
  /** Closes the session at once, abandoning commands still running. */
  disconnect(code: number, reason: string): void;
  /** Closes the session once the commands it already received are answered (at once if none run). */
  disconnectAfterCommands(code: number, reason: string): void;
}

export interface DrainOptions {
  /** Over how long the sessions are closed, ms; 0 closes them all at once. */
  readonly periodMs: number;
  /**
   * How many sessions the node still holds: the drain ends as soon as none is left, even before the
   * period is over (clients that left by themselves are not waited for).
   */
  readonly open: () => number;
  /**
   * How long a session asked to close may still spend on the commands it received, ms. Default 5 s,
   * the engine's own call timeout: by then a publish under way has been answered one way or the other.
   */
  readonly commandsGraceMs?: number;
  /** Time between two batches, ms. Default 50: small batches, and a drain of 0 ms still ends at once. */
  readonly tickMs?: number;
}

const DEFAULT_COMMANDS_GRACE_MS = 5000;
const DEFAULT_TICK_MS = 50;

/** A session asked to close that is still answering its commands, and when it must close anyway. */
interface Waiting {
  readonly session: DrainableSession;
  readonly deadline: number;
}

/**
 * Closes a fixed list of sessions with 3001: the i-th of n at about `i × period / n` after the start
 * (the first at once, the last one period/n before the end). A session that closed by itself
 * meanwhile is skipped.
 */
export class SessionDrain {
  readonly #sessions: readonly DrainableSession[];
  readonly #options: DrainOptions;
  readonly #graceMs: number;
  readonly #tickMs: number;
  #waiting: Waiting[] = [];
  #next = 0;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #finish: (() => void) | undefined;

  constructor(sessions: Iterable<DrainableSession>, options: DrainOptions) {
    this.#sessions = [...sessions];
    this.#options = options;
    this.#graceMs = options.commandsGraceMs ?? DEFAULT_COMMANDS_GRACE_MS;
    this.#tickMs = options.tickMs ?? DEFAULT_TICK_MS;
  }

  /** Starts closing the sessions; resolves once every one of them is closed (or {@link stop}). */
  run(): Promise<void> {
    this.#startedAt = Date.now();
    const done = new Promise<void>((resolve) => (this.#finish = resolve));
    this.#tick();
    return done;
  }

  /** Ends the drain where it is: the sessions still open are left to the caller. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const finish = this.#finish;
    this.#finish = undefined;
    finish?.();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#finish === undefined) return;
    const now = Date.now();
    const due = this.#due(now - this.#startedAt);
    while (this.#next < due) {
      const session = this.#sessions[this.#next++] as DrainableSession;
      if (session.closed) continue;
      session.disconnectAfterCommands(DisconnectCode.SHUTDOWN, 'shutdown');
      if (!session.closed) this.#waiting.push({ session, deadline: now + this.#graceMs });
    }
    this.#waiting = this.#waiting.filter(({ session, deadline }) => {
      if (!session.closed && now >= deadline) session.disconnect(DisconnectCode.SHUTDOWN, 'shutdown');
      return !session.closed;
    });
    const asked = this.#next >= this.#sessions.length;
    if ((asked && this.#waiting.length === 0) || this.#options.open() === 0) {
      this.stop();
      return;
    }
    this.#timer = setTimeout(() => this.#tick(), this.#tickMs);
  }

  /** How many sessions should have been asked to close `elapsed` ms after the start. */
  #due(elapsed: number): number {
    const total = this.#sessions.length;
    const { periodMs } = this.#options;
    if (periodMs <= 0 || elapsed >= periodMs) return total;
    return Math.min(total, Math.floor((total * elapsed) / periodMs) + 1);
  }
}
