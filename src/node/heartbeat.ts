/**
 * One shared timer for every connection's deadlines (ping, pong, connect, token expiry), instead of
 * timers per connection. Each tick visits all connections once; at 20,000 connections that is well
 * under a millisecond per second.
 */
export interface Beating {
  /** Called once per tick with the current time; the connection checks its own deadlines. */
  beat(now: number): void;
}

export class Heartbeat {
  readonly #members = new Set<Beating>();
  readonly #timer: NodeJS.Timeout;

  constructor(tickMs = 1000) {
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const member of this.#members) member.beat(now);
    }, tickMs);
    this.#timer.unref();
  }

  add(member: Beating): void {
    this.#members.add(member);
  }
  delete(member: Beating): void {
    this.#members.delete(member);
  }
  stop(): void {
    clearInterval(this.#timer);
    this.#members.clear();
  }
}
