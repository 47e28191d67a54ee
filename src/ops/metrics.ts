/**
 * Prometheus metrics (`GET /metrics`), with prom-client. Labels are node-level only — transport, error
 * code, close code, engine operation — never a channel or a user, so the number of series stays
 * fixed however many channels there are. Counts the node already keeps (connections, deliveries…) are
 * read when scraped rather than updated on the hot path; only publishes, errors and disconnects are
 * counted as they happen. docs/operations.md lists every metric.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { FastHistogram, type HistogramSeries } from './fast-histogram.ts';
import type { EngineOperation, NodeMetrics, PublishSource } from '../node/node-metrics.ts';
import type { HeraldNode } from '../node/node.ts';

/** Seconds: from a memory-engine publish (tens of µs) to a struggling Redis (seconds). */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export class Metrics implements NodeMetrics {
  readonly registry = new Registry();
  readonly #publishSeconds: Record<PublishSource, HistogramSeries>;
  readonly #engineSeries: Record<EngineOperation, HistogramSeries>;
  readonly #errors: Counter<'code' | 'via'>;
  readonly #deliveryLag: HistogramSeries;
  readonly #deliveryCheckFailures: Counter;
  readonly #disconnects: Counter<'code'>;

  constructor() {
    const registers = [this.registry];
    // Process CPU, memory, file descriptors, GC, and event-loop lag (nodejs_eventloop_lag_*).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    const publishSeconds = new FastHistogram<PublishSource>({
      name: 'herald_publish_duration_seconds',
      help: 'Time from a publish request to the engine storing and sending it, by source (api, client, batch).',
      label: 'source',
      buckets: LATENCY_BUCKETS,
      registry: this.registry,
    });
    this.#publishSeconds = {
      api: publishSeconds.series('api'),
      client: publishSeconds.series('client'),
      batch: publishSeconds.series('batch'),
    };
    const engineSeconds = new FastHistogram<EngineOperation>({
      name: 'herald_engine_duration_seconds',
      help: 'Round trips to the engine (Redis, or the memory engine), by operation.',
      label: 'operation',
      buckets: LATENCY_BUCKETS,
      registry: this.registry,
    });
    const engineOperations: EngineOperation[] = [
      'publish',
      'publishBatch',
      'history',
      'presence',
      'presenceStats',
    ];
    this.#engineSeries = Object.fromEntries(
      engineOperations.map((operation) => [operation, engineSeconds.series(operation)]),
    ) as Record<EngineOperation, HistogramSeries>;
    this.#deliveryLag = new FastHistogram<'live'>({
      name: 'herald_delivery_lag_seconds',
      help: 'From a publication being published (on any node) to this node handing it to its subscribers; includes clock differences between nodes.',
      label: 'path',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registry: this.registry,
    }).series('live');
    this.#deliveryCheckFailures = new Counter({
      name: 'herald_delivery_check_failures_total',
      help: "Times this node's delivery check found that publications no longer reached it (it then repairs the path).",
      registers: [this.registry],
    });
    this.#errors = new Counter({
      name: 'herald_errors_total',
      help: 'Requests and commands refused, by error code and by where they came from (client, api).',
      labelNames: ['code', 'via'],
      registers,
    });
    this.#disconnects = new Counter({
      name: 'herald_disconnects_total',
      help: 'Client connections closed by the node, by close code (3006 = slow consumer).',
      labelNames: ['code'],
      registers,
    });
  }

  observePublish(seconds: number, source: PublishSource): void {
    this.#publishSeconds[source].observe(seconds);
  }

  observeEngine(operation: EngineOperation, seconds: number): void {
    this.#engineSeries[operation].observe(seconds);
  }

  observeDeliveryLag(seconds: number): void {
    this.#deliveryLag.observe(seconds);
  }

  countDeliveryCheckFailure(): void {
    this.#deliveryCheckFailures.inc();
  }

  countError(code: string, via: 'client' | 'api'): void {
    this.#errors.inc({ code, via });
  }

  countDisconnect(code: number): void {
    this.#disconnects.inc({ code: String(code) });
  }

  /** The node's own counts, read at each scrape. */
  watch(node: HeraldNode): void {
    const registers = [this.registry];
    const stats = () => node.stats();
    new Gauge({
      name: 'herald_connections',
      help: 'Open client connections on this node, by transport (websocket, sse).',
      labelNames: ['transport'],
      registers,
      collect() {
        for (const [transport, count] of Object.entries(stats().transports)) this.set({ transport }, count);
      },
    });
    new Gauge({
      name: 'herald_subscriptions',
      help: 'Subscriptions of the connections on this node.',
      registers,
      collect() {
        this.set(node.hub.subscriptionCount);
      },
    });
    new Gauge({
      name: 'herald_channels',
      help: 'Channels with subscribers on this node.',
      registers,
      collect() {
        this.set(node.hub.channelCount);
      },
    });
    new Gauge({
      name: 'herald_nodes',
      help: 'Live nodes of the deployment, as this node sees them.',
      registers,
      collect() {
        this.set(node.nodes().length);
      },
    });
    new Gauge({
      name: 'herald_ready',
      help: '1 when the node accepts work (engine reachable, not draining), else 0.',
      registers,
      collect() {
        this.set(node.ready ? 1 : 0);
      },
    });
    monotonic(
      this.registry,
      'herald_publications_published_total',
      'Publications published through this node (server API and clients).',
      () => stats().published,
    );
    monotonic(
      this.registry,
      'herald_publications_delivered_total',
      'Publications handed to subscribers on this node, one per subscriber.',
      () => stats().delivered,
    );
    monotonic(
      this.registry,
      'herald_slow_consumer_disconnects_total',
      'Clients closed because they did not read fast enough (3006).',
      () => node.slowConsumers,
    );
    monotonic(
      this.registry,
      'herald_insufficient_state_disconnects_total',
      'Clients closed because their stream could not continue without a gap (3007).',
      () => node.insufficientStateDisconnects,
    );
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A counter whose total the node keeps: each scrape brings the counter up to it. */
function monotonic(registry: Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const total = read();
      if (total > reported) this.inc(total - reported);
      reported = Math.max(reported, total);
    },
  });
}
