/** The overview: the whole deployment at a glance — totals with sparklines, throughput, transports, nodes. */
import { LineChart, Sparkline } from '../shared/charts.tsx';
import { formatCount, formatRate, formatUptime } from '../shared/format.ts';
import { type Metric, type NodeView, type StatsModel } from './stats-model.ts';
import type { StatsState } from './use-stats.ts';

interface TileSpec {
  readonly metric: Metric;
  readonly label: string;
  readonly color: string;
  readonly rate?: boolean;
}

const TILES: readonly TileSpec[] = [
  { metric: 'nodes', label: 'Nodes', color: 'var(--c-nodes)' },
  { metric: 'connections', label: 'Connections', color: 'var(--c-connections)' },
  { metric: 'subscriptions', label: 'Subscriptions', color: 'var(--c-subscriptions)' },
  { metric: 'channels', label: 'Channels', color: 'var(--c-channels)' },
  { metric: 'publishRate', label: 'Publications / s', color: 'var(--c-publish)', rate: true },
  { metric: 'deliveryRate', label: 'Deliveries / s', color: 'var(--c-deliver)', rate: true },
];

export function Overview({ stats, now }: { readonly stats: StatsState; readonly now: number }) {
  const { model, error } = stats;
  const totals = model.totals(now);
  const nodes = model.nodes(now);
  const span = model.span(now);
  return (
    <div class="overview" data-testid="overview">
      {error !== undefined && <p class="banner warn">{error}</p>}
      <section class="tiles">
        {TILES.map(({ metric, label, color, rate }) => (
          <div class="card tile" key={metric}>
            <div class="tile-label">{label}</div>
            <div class="tile-value num" data-testid={`metric-${metric}`} data-value={totals[metric]}>
              {rate === true ? formatRate(totals[metric]) : formatCount(totals[metric])}
            </div>
            <Sparkline
              values={model.series(metric, now, span)}
              color={color}
              label={`${label}, last ${span} seconds`}
            />
          </div>
        ))}
      </section>
      <section class="row">
        <div class="card chart-card">
          <h2>Throughput</h2>
          <LineChart
            seconds={span}
            format={(value) => `${formatRate(value)}/s`}
            series={[
              {
                label: 'Published',
                color: 'var(--c-publish)',
                values: model.series('publishRate', now, span),
              },
              {
                label: 'Delivered',
                color: 'var(--c-deliver)',
                values: model.series('deliveryRate', now, span),
              },
            ]}
          />
          <p class="chart-foot">
            <span>
              Fan-out{' '}
              <strong class="num">
                {totals.publishRate > 0 ? `${(totals.deliveryRate / totals.publishRate).toFixed(1)}×` : '—'}
              </strong>
            </span>
            <span>
              <strong class="num">{formatCount(totals.published)}</strong> published ·{' '}
              <strong class="num">{formatCount(totals.delivered)}</strong> delivered since the nodes started
            </span>
          </p>
        </div>
        <div class="card chart-card">
          <h2>Connections</h2>
          <LineChart
            seconds={span}
            format={formatCount}
            series={[
              {
                label: 'Connections',
                color: 'var(--c-connections)',
                values: model.series('connections', now, span),
              },
              {
                label: 'Subscriptions',
                color: 'var(--c-subscriptions)',
                values: model.series('subscriptions', now, span),
              },
            ]}
          />
          <Transports websocket={totals.websocket} sse={totals.sse} />
        </div>
      </section>
      <NodesTable nodes={nodes} model={model} now={now} span={span} />
    </div>
  );
}

function Transports({ websocket, sse }: { readonly websocket: number; readonly sse: number }) {
  const total = websocket + sse;
  const share = total === 0 ? 0 : (websocket / total) * 100;
  return (
    <div class="transports">
      <div class="split" role="img" aria-label={`${websocket} WebSocket, ${sse} SSE connections`}>
        <span style={{ width: `${share}%`, background: 'var(--c-connections)' }} />
        <span style={{ width: `${100 - share}%`, background: 'var(--c-channels)' }} />
      </div>
      <div class="split-legend">
        <span>
          <span class="swatch" style={{ background: 'var(--c-connections)' }} /> WebSocket{' '}
          <strong class="num">{formatCount(websocket)}</strong>
        </span>
        <span>
          <span class="swatch" style={{ background: 'var(--c-channels)' }} /> SSE{' '}
          <strong class="num">{formatCount(sse)}</strong>
        </span>
      </div>
    </div>
  );
}

function NodesTable({
  nodes,
  model,
  now,
  span,
}: {
  readonly nodes: readonly NodeView[];
  readonly model: StatsModel;
  readonly now: number;
  readonly span: number;
}) {
  return (
    <section class="card table-card">
      <h2>
        Nodes <span class="count">{nodes.length}</span>
      </h2>
      <div class="table-scroll">
        <table class="nodes" data-testid="nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>Version</th>
              <th>Engine</th>
              <th class="n">Uptime</th>
              <th class="n">Connections</th>
              <th class="n">Subscriptions</th>
              <th class="n">Channels</th>
              <th class="n">Published/s</th>
              <th class="n">Delivered/s</th>
              <th class="spark-col">Delivered, last {span >= 120 ? '2 min' : `${span} s`}</th>
            </tr>
          </thead>
          <tbody>
            {nodes.length === 0 && (
              <tr>
                <td colSpan={10} class="empty">
                  Waiting for the nodes to report…
                </td>
              </tr>
            )}
            {nodes.map((node) => (
              <tr key={node.id} data-node={node.id} data-live={node.live}>
                <td>
                  <span class={`dot ${node.live ? 'dot-good' : 'dot-idle'}`} />
                  <strong>{node.name}</strong> <code class="id">{node.id.slice(0, 8)}</code>
                </td>
                <td>{node.version ?? '—'}</td>
                <td>{node.engine ?? '—'}</td>
                <td class="n num">{formatUptime(node.uptime)}</td>
                <td class="n num">{formatCount(node.connections)}</td>
                <td class="n num">{formatCount(node.subscriptions)}</td>
                <td class="n num">{formatCount(node.channels)}</td>
                <td class="n num">{formatRate(node.publishRate)}</td>
                <td class="n num">{formatRate(node.deliveryRate)}</td>
                <td class="spark-col">
                  <Sparkline
                    values={model.nodeSeries(node.id, 'deliveryRate', now, span)}
                    color="var(--c-deliver)"
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
