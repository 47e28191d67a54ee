/**
 * The live nodes of the deployment as their announcements describe them. Each announcement carries
 * its own lifetime, so a node that dies without a word drops out when it stops announcing.
 */
import type { NodeInfo } from './control-messages.ts';

interface Entry {
  readonly info: NodeInfo;
  readonly receivedAt: number;
  readonly expiresAt: number;
}

export class NodeRegistry {
  readonly #entries = new Map<string, Entry>();

  /** Records an announcement; true when the node was not known (alive) before. */
  update(info: NodeInfo, ttlMs: number, now = Date.now()): boolean {
    this.#prune(now);
    const known = this.#live(info.id, now) !== undefined;
    this.#entries.set(info.id, { info, receivedAt: now, expiresAt: now + ttlMs });
    return !known;
  }

  remove(id: string): void {
    this.#entries.delete(id);
  }

  /** The live nodes, with uptimes brought forward to `now`. */
  nodes(now = Date.now()): NodeInfo[] {
    const out: NodeInfo[] = [];
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(id);
      else
        out.push({ ...entry.info, uptime: entry.info.uptime + Math.floor((now - entry.receivedAt) / 1000) });
    }
    return out;
  }

  ids(now = Date.now()): Set<string> {
    return new Set(this.nodes(now).map((node) => node.id));
  }

  #prune(now: number): void {
    for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(id);
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    return entry !== undefined && entry.expiresAt > now ? entry : undefined;
  }
}
