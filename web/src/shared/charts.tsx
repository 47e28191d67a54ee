/**
 * Small hand-drawn SVG charts: a sparkline for a tile and a line chart with a hover readout. Values
 * are one per second, oldest first; `null` is a gap (no node reported then). The SVG is stretched to
 * its box (`preserveAspectRatio="none"`) with strokes that keep their width.
 */
import { useState } from 'preact/hooks';

type Values = readonly (number | null)[];
const HEIGHT = 100;

/** The SVG path of a series scaled to `max`, gaps left open; closed down to the axis for an area. */
function seriesPath(values: Values, max: number, area: boolean): string {
  const y = (value: number) => (HEIGHT - (value / max) * HEIGHT * 0.92).toFixed(2);
  let path = '';
  let start = -1;
  const close = (end: number) => {
    if (start >= 0 && area) path += `L${end} ${HEIGHT}L${start} ${HEIGHT}Z`;
    start = -1;
  };
  values.forEach((value, x) => {
    if (value === null) return close(x - 1);
    if (start < 0) {
      start = x;
      path += `M${x} ${y(value)}`;
      // A lone point still draws: a hair-wide step.
      if (values[x + 1] === null || x === values.length - 1) path += `L${x + 0.01} ${y(value)}`;
    } else path += `L${x} ${y(value)}`;
  });
  close(values.length - 1);
  return path;
}

function maxOf(series: readonly Values[], floor: number): number {
  let max = floor;
  for (const values of series) for (const value of values) if (value !== null && value > max) max = value;
  return max;
}

export interface SparklineProps {
  readonly values: Values;
  /** A CSS color (a variable is fine). */
  readonly color: string;
  /** The smallest top of the scale, so a flat series of 1s does not fill the box. */
  readonly floor?: number;
  readonly label?: string;
}

export function Sparkline({ values, color, floor = 1, label }: SparklineProps) {
  const width = Math.max(1, values.length - 1);
  const max = maxOf([values], floor);
  return (
    <svg
      class="sparkline"
      viewBox={`0 0 ${width} ${HEIGHT}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      <path d={seriesPath(values, max, true)} fill={color} fill-opacity="0.12" stroke="none" />
      <path
        d={seriesPath(values, max, false)}
        fill="none"
        stroke={color}
        stroke-width="1.5"
        stroke-linejoin="round"
        vector-effect="non-scaling-stroke"
      />
    </svg>
  );
}

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly values: Values;
}

export interface LineChartProps {
  readonly series: readonly ChartSeries[];
  /** How a value reads in the legend and the hover readout. */
  readonly format: (value: number) => string;
  /** Seconds the chart spans (the axis caption). */
  readonly seconds: number;
  readonly floor?: number;
}

/** Several series on one scale, with a legend that shows the latest values, or those under the pointer. */
export function LineChart({ series, format, seconds, floor = 1 }: LineChartProps) {
  const [hover, setHover] = useState<number | undefined>();
  const length = Math.max(0, ...series.map(({ values }) => values.length));
  const width = Math.max(1, length - 1);
  const max = maxOf(
    series.map(({ values }) => values),
    floor,
  );
  const index = hover ?? length - 1;
  const onMove = (event: PointerEvent) => {
    const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
    const ratio = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    setHover(Math.round(ratio * width));
  };
  return (
    <div class="line-chart">
      <div class="legend">
        {series.map(({ label, color, values }) => {
          const value = values[index];
          return (
            <span class="legend-item" key={label}>
              <span class="swatch" style={{ background: color }} />
              {label}{' '}
              <strong class="num">{value === null || value === undefined ? '—' : format(value)}</strong>
            </span>
          );
        })}
        <span class="legend-when">
          {hover === undefined ? 'now' : `${Math.max(0, length - 1 - hover)} s ago`}
        </span>
      </div>
      <div class="plot" onPointerMove={onMove} onPointerLeave={() => setHover(undefined)}>
        <span class="axis-max num">{format(max / 0.92)}</span>
        <svg viewBox={`0 0 ${width} ${HEIGHT}`} preserveAspectRatio="none" aria-hidden="true">
          <line
            class="grid"
            x1="0"
            x2={width}
            y1={HEIGHT / 2}
            y2={HEIGHT / 2}
            vector-effect="non-scaling-stroke"
          />
          {series.map(({ label, color, values }) => (
            <g key={label}>
              <path d={seriesPath(values, max, true)} fill={color} fill-opacity="0.08" />
              <path
                d={seriesPath(values, max, false)}
                fill="none"
                stroke={color}
                stroke-width="1.75"
                stroke-linejoin="round"
                vector-effect="non-scaling-stroke"
              />
            </g>
          ))}
          {hover !== undefined && (
            <line
              class="cursor"
              x1={hover}
              x2={hover}
              y1="0"
              y2={HEIGHT}
              vector-effect="non-scaling-stroke"
            />
          )}
        </svg>
        <span class="axis-caption">
          <span>{seconds >= 120 ? `${Math.round(seconds / 60)} min ago` : `${seconds} s ago`}</span>
          <span>now</span>
        </span>
      </div>
    </div>
  );
}
