/**
 * The soak's chart: panels stacked over one time axis (minutes), linear scales from zero, one line per
 * series, and a dashed vertical line at the end of the warm-up. Hand-written SVG with no dependencies,
 * readable as text and rendered by GitHub (bench/lib/svg-chart.ts draws log-log charts, not time lines).
 */
import { formatNumber } from '../../bench/lib/svg-chart.ts';

export interface TimeSeries {
  readonly label: string;
  readonly color: string;
  /** [minutes, value] points; NaN values are skipped. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
  /** Draw a dot at every point (for sparse readings), not only a line. */
  readonly dots?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly series: readonly TimeSeries[];
  /** Start the y axis near the smallest value instead of at zero, to show small drifts. Default false. */
  readonly zoom?: boolean;
}

export interface TimeChartOptions {
  readonly title: string;
  readonly panels: readonly Panel[];
  /** Minutes: the dashed line marking the end of the warm-up. */
  readonly warmupEnd: number;
  /** Minutes: the right end of the axis. */
  readonly end: number;
}

const WIDTH = 900;
const PANEL_HEIGHT = 200;
const GAP = 46;
const MARGIN = { left: 64, right: 210, top: 56, bottom: 44 };

export function timeChart(options: TimeChartOptions): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + options.panels.length * (PANEL_HEIGHT + GAP) - GAP + MARGIN.bottom;
  const sx = (minutes: number) => MARGIN.left + (minutes / Math.max(options.end, 1e-9)) * plotW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
  ];
  options.panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (PANEL_HEIGHT + GAP);
    out.push(...drawPanel(panel, top, plotW, sx, options));
  });
  const bottom = height - MARGIN.bottom;
  for (const minutes of timeTicks(options.end))
    out.push(`<text x="${sx(minutes).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${minutes}</text>`);
  out.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 8}" text-anchor="middle">minutes since the load started</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

function drawPanel(
  panel: Panel,
  top: number,
  plotW: number,
  sx: (minutes: number) => number,
  options: TimeChartOptions,
): string[] {
  const values = panel.series.flatMap((series) => series.points.map(([, y]) => y)).filter(Number.isFinite);
  const yTicks = panel.zoom === true ? zoomTicks(values) : niceTicks(Math.max(...values, 0));
  const yMin = yTicks[0] ?? 0;
  const yMax = yTicks.at(-1) ?? 1;
  const sy = (value: number) => top + PANEL_HEIGHT - ((value - yMin) / (yMax - yMin)) * PANEL_HEIGHT;
  const out = [`<text x="${MARGIN.left}" y="${top - 8}" font-weight="bold">${escape(panel.title)}</text>`];
  for (const tick of yTicks) {
    const y = sy(tick).toFixed(1);
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e9ecef"/>`,
      `<text x="${MARGIN.left - 6}" y="${Number(y) + 4}" text-anchor="end">${formatNumber(tick)}</text>`,
    );
  }
  for (const minutes of timeTicks(options.end)) {
    const x = sx(minutes).toFixed(1);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + PANEL_HEIGHT}" stroke="#f1f3f5"/>`);
  }
  const warm = sx(options.warmupEnd).toFixed(1);
  out.push(
    `<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${PANEL_HEIGHT}" fill="none" stroke="#495057"/>`,
    `<line x1="${warm}" y1="${top}" x2="${warm}" y2="${top + PANEL_HEIGHT}" stroke="#868e96" stroke-dasharray="4 4"/>`,
    `<text x="${Number(warm) + 4}" y="${top + 12}" fill="#868e96">warm-up ends</text>`,
  );
  panel.series.forEach((series, i) => {
    const points = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
    if (points.length > 0) {
      const path = points
        .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join(' ');
      out.push(`<path d="${path}" fill="none" stroke="${series.color}" stroke-width="1.5"${dash}/>`);
      if (series.dots === true)
        for (const [x, y] of points)
          out.push(
            `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${series.color}"/>`,
          );
    }
    const lx = MARGIN.left + plotW + 12;
    const ly = top + 8 + i * 18;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${escape(series.label)}</text>`,
    );
  });
  return out;
}

/** Round tick values from 0 to at least `max` (about five of them). */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const ticks: number[] = [];
  for (let k = 0; k * step < max + step * 1e-9 || ticks.length < 2; k++)
    ticks.push(+(k * step).toPrecision(12));
  if ((ticks.at(-1) ?? 0) < max) ticks.push(+(ticks.length * step).toPrecision(12));
  return ticks;
}

/** Ticks around `values` (about five), not from zero: for a panel that shows a drift. */
function zoomTicks(values: readonly number[]): number[] {
  if (values.length === 0) return [0, 1];
  const low = Math.min(...values);
  const high = Math.max(...values);
  const span = niceTicks(Math.max(high - low, high * 0.02, 1e-9));
  const step = (span[1] ?? 1) - (span[0] ?? 0);
  const first = Math.floor(low / step) * step;
  const ticks: number[] = [];
  for (let tick = first; ticks.length < 2 || (ticks.at(-1) ?? 0) < high; tick += step)
    ticks.push(+tick.toPrecision(12));
  return ticks;
}

/** Minute ticks inside the axis. */
function timeTicks(end: number): number[] {
  return niceTicks(end).filter((minutes) => minutes <= end * (1 + 1e-9));
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
