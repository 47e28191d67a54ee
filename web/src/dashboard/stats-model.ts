/**
 * The overview's numbers, from two sources: the samples every node publishes each second on
 * `$herald:stats` (live numbers and counters), and `GET /api/info` (which nodes exist, their version,
 * engine and uptime). Rates come from consecutive samples of one node; a counter that goes down means
 * the node restarted, and that pair gives no rate. A node whose samples stop for `STALE_MS` is gone.
 * Pure: the caller passes the time, so it can be tested without a clock.
 */

/** One sample of `$herald:stats`. */
export interface StatsSample {
  readonly node: string;
  readonly name: string;
  /** When the node took it, ms since the Unix epoch. */
  readonly at: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
  /** Publications since the node started. */
  readonly published: number;
  /** Publications delivered to subscribers since the node started. */
  readonly delivered: number;
  readonly transports: { readonly websocket: number; readonly sse: number };
}

/** One node of `GET /api/info`. */
export interface InfoNode {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly engine: string;
  /** Seconds. */
  readonly uptime: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
}

/** A node as the overview shows it. */
export interface NodeView {
  readonly id: string;
  readonly name: string;
  readonly version: string | undefined;
  readonly engine: string | undefined;
  /** Seconds, or undefined until /api/info described the node. */
  readonly uptime: number | undefined;
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
  /** Per second, from the last two samples; undefined before the second sample. */
  readonly publishRate: number | undefined;
  readonly deliveryRate: number | undefined;
  readonly transports: { readonly websocket: number; readonly sse: number } | undefined;
  /** The node's counters since it started (0 until it sampled). */
  readonly published: number;
  readonly delivered: number;
  /** Whether the numbers come from a live sample (false: only from /api/info). */
  readonly live: boolean;
}

export type Metric = 'nodes' | 'connections' | 'subscriptions' | 'channels' | 'publishRate' | 'deliveryRate';

export interface Totals extends Record<Metric, number> {
  readonly websocket: number;
  readonly sse: number;
  /** Publications and deliveries since the live nodes started (their counters, summed). */
  readonly published: number;
  readonly delivered: number;
}

/** A node silent this long is gone (nodes sample every second). */
export const STALE_MS = 5000;
/** The span the charts show, seconds: at most two minutes, at least half a minute. */
export const WINDOW_S = 120;
const MIN_WINDOW_S = 30;
/** Samples are kept a little longer than the charts show. */
const KEEP_MS = (WINDOW_S + 10) * 1000;
/** How far a sample may lie before a chart's second and still count for it (nodes sample each ~1 s). */
const SAMPLE_REACH_MS = 2500;

interface Point {
  readonly sample: StatsSample;
  readonly publishRate: number | undefined;
  readonly deliveryRate: number | undefined;
}

interface NodeState {
  /** Oldest first. */
  points: Point[];
  info: InfoNode | undefined;
  /** When `info` was fetched. */
  infoAt: number;
}

export class StatsModel {
  readonly #nodes = new Map<string, NodeState>();
  /** The ids the last /api/info listed. */
  #listed = new Set<string>();

  /** Adds a sample (from the live stream or the history, in any order); false if it was already there. */
  addSample(sample: StatsSample): boolean {
    const state = this.#node(sample.node);
    const points = state.points;
    let index = points.length;
    while (index > 0 && (points[index - 1]?.sample.at ?? 0) > sample.at) index--;
    if (points[index - 1]?.sample.at === sample.at) return false;
    points.splice(index, 0, { sample, publishRate: undefined, deliveryRate: undefined });
    // The rates of this point and of the one after it depend on their predecessors.
    for (const i of [index, index + 1]) {
      const point = points[i];
      if (point !== undefined) points[i] = withRates(point.sample, points[i - 1]?.sample);
    }
    const cutoff = sample.at - KEEP_MS;
    while ((points[0]?.sample.at ?? Infinity) < cutoff) points.shift();
    return true;
  }

  /** Takes the node list of /api/info, fetched at `now`. */
  setInfo(nodes: readonly InfoNode[], now: number): void {
    this.#listed = new Set(nodes.map(({ id }) => id));
    for (const info of nodes) {
      const state = this.#node(info.id);
      state.info = info;
      state.infoAt = now;
    }
    // A node neither listed nor sampling is forgotten once its samples have left the charts.
    for (const [id, state] of this.#nodes) {
      const last = state.points.at(-1);
      if (!this.#listed.has(id) && (last === undefined || now - last.sample.at > KEEP_MS))
        this.#nodes.delete(id);
    }
  }

  /** The live nodes: sampling in the last `STALE_MS`, or listed by /api/info and never sampled. */
  nodes(now: number): NodeView[] {
    const views: NodeView[] = [];
    for (const [id, state] of this.#nodes) {
      const last = state.points.at(-1);
      if (last === undefined ? !this.#listed.has(id) : !isFresh(state, now)) continue;
      views.push(nodeView(id, state, last, now));
    }
    return views.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  totals(now: number): Totals {
    const nodes = this.nodes(now);
    const sum = (pick: (node: NodeView) => number | undefined) =>
      nodes.reduce((total, node) => total + (pick(node) ?? 0), 0);
    return {
      nodes: nodes.length,
      connections: sum((node) => node.connections),
      subscriptions: sum((node) => node.subscriptions),
      channels: sum((node) => node.channels),
      publishRate: sum((node) => node.publishRate),
      deliveryRate: sum((node) => node.deliveryRate),
      websocket: sum((node) => node.transports?.websocket),
      sse: sum((node) => node.transports?.sse),
      published: sum((node) => node.published),
      delivered: sum((node) => node.delivered),
    };
  }

  /**
   * The seconds the charts should span: the samples held, between `MIN_WINDOW_S` and `WINDOW_S`, so
   * a new deployment's charts fill out instead of hugging the right edge.
   */
  span(now: number): number {
    let oldest = now;
    for (const { points } of this.#nodes.values()) oldest = Math.min(oldest, points[0]?.sample.at ?? now);
    return Math.min(WINDOW_S, Math.max(MIN_WINDOW_S, Math.ceil((now - oldest) / 1000) + 1));
  }

  /**
   * One value per second over the last `seconds` up to `now`, summed over the nodes: each node counts
   * with its latest sample at or before that second (if recent enough). `null` where no node did.
   */
  series(metric: Metric, now: number, seconds = WINDOW_S): (number | null)[] {
    // The last point is `now` itself, so the charts end on the numbers the tiles show.
    const end = now;
    const values: (number | null)[] = new Array<number | null>(seconds).fill(null);
    for (const state of this.#nodes.values()) {
      const points = state.points;
      let i = 0;
      for (let k = 0; k < seconds; k++) {
        const t = end - (seconds - 1 - k) * 1000;
        while (i + 1 < points.length && (points[i + 1]?.sample.at ?? Infinity) <= t) i++;
        const point = points[i];
        if (point === undefined || point.sample.at > t || t - point.sample.at > SAMPLE_REACH_MS) continue;
        const value = metricOf(point, metric);
        if (value === undefined) continue;
        values[k] = (values[k] ?? 0) + value;
      }
    }
    return values;
  }

  /** One node's series of `metric` (null where it did not report). */
  nodeSeries(id: string, metric: Metric, now: number, seconds = WINDOW_S): (number | null)[] {
    const state = this.#nodes.get(id);
    if (state === undefined) return new Array<number | null>(seconds).fill(null);
    const single = new StatsModel();
    single.#nodes.set(id, state);
    return single.series(metric, now, seconds);
  }

  #node(id: string): NodeState {
    let state = this.#nodes.get(id);
    if (state === undefined) {
      state = { points: [], info: undefined, infoAt: 0 };
      this.#nodes.set(id, state);
    }
    return state;
  }
}

function isFresh(state: NodeState, now: number): boolean {
  const last = state.points.at(-1);
  return last !== undefined && now - last.sample.at <= STALE_MS;
}

function withRates(sample: StatsSample, previous: StatsSample | undefined): Point {
  if (previous === undefined) return { sample, publishRate: undefined, deliveryRate: undefined };
  const seconds = (sample.at - previous.at) / 1000;
  const rate = (now: number, before: number) =>
    seconds > 0 && now >= before ? (now - before) / seconds : undefined;
  return {
    sample,
    publishRate: rate(sample.published, previous.published),
    deliveryRate: rate(sample.delivered, previous.delivered),
  };
}

function metricOf(point: Point, metric: Metric): number | undefined {
  switch (metric) {
    case 'nodes':
      return 1;
    case 'publishRate':
    case 'deliveryRate':
      return point[metric];
    default:
      return point.sample[metric];
  }
}

function nodeView(id: string, state: NodeState, last: Point | undefined, now: number): NodeView {
  const { info } = state;
  // A sample newer than the /api/info answer has the current numbers.
  const fromSample = last !== undefined && (info === undefined || last.sample.at >= state.infoAt);
  const numbers = fromSample ? last.sample : info;
  return {
    id,
    name: info?.name ?? last?.sample.name ?? id.slice(0, 8),
    version: info?.version,
    engine: info?.engine,
    uptime: info === undefined ? undefined : info.uptime + (now - state.infoAt) / 1000,
    connections: numbers?.connections ?? 0,
    subscriptions: numbers?.subscriptions ?? 0,
    channels: numbers?.channels ?? 0,
    publishRate: last?.publishRate,
    deliveryRate: last?.deliveryRate,
    transports: last?.sample.transports,
    published: last?.sample.published ?? 0,
    delivered: last?.sample.delivered ?? 0,
    live: last !== undefined,
  };
}

/** The sample in a publication's data, or undefined if it is not one. */
export function parseSample(data: unknown): StatsSample | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const value = data as Record<string, unknown>;
  const numbers = ['at', 'connections', 'subscriptions', 'channels', 'published', 'delivered'] as const;
  if (typeof value['node'] !== 'string' || numbers.some((key) => typeof value[key] !== 'number')) {
    return undefined;
  }
  const transports = (value['transports'] ?? {}) as Record<string, unknown>;
  const count = (x: unknown) => (typeof x === 'number' ? x : 0);
  return {
    ...(value as unknown as StatsSample),
    name: typeof value['name'] === 'string' ? value['name'] : value['node'],
    transports: { websocket: count(transports['websocket']), sse: count(transports['sse']) },
  };
}
