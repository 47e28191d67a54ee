/**
 * A small SVG line chart for the report: latency against load, one line per system, logarithmic
 * axes (load spans orders of magnitude, and so does latency once a system saturates). No
 * dependencies; the file is readable as text and renders on GitHub.
 */
export interface Series {
  readonly label: string;
  readonly color: string;
  /** [x, y] points; x and y must be > 0. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Horizontal guide lines, e.g. a latency target. */
  readonly guides?: readonly { readonly y: number; readonly label: string }[];
}

const WIDTH = 760;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 190, top: 40, bottom: 50 };

export const SYSTEM_COLORS: Readonly<Record<string, string>> = {
  herald: '#d9480f',
  'socket.io': '#1c7ed6',
  'ws-frame': '#868e96',
  'ws-batch': '#2b8a3e',
};

export function lineChart(options: ChartOptions): string {
  const points = options.series.flatMap((series) => series.points).filter(([x, y]) => x > 0 && y > 0);
  const ys = [...points.map(([, y]) => y), ...(options.guides ?? []).map((guide) => guide.y)];
  const xs = points.map(([x]) => x);
  const [x0, x1] = logBounds(xs);
  const [y0, y1] = logBounds(ys);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((Math.log10(x) - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((Math.log10(y) - y0) / (y1 - y0)) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
  ];
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
    const x = sx(10 ** e);
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e9ecef"/>`);
    out.push(
      `<text x="${x}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${formatNumber(10 ** e)}</text>`,
    );
  }
  for (let e = Math.ceil(y0); e <= Math.floor(y1); e++) {
    const y = sy(10 ** e);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e9ecef"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${y + 4}" text-anchor="end">${formatNumber(10 ** e)}</text>`);
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#495057"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escape(options.xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}</text>`,
  );
  for (const guide of options.guides ?? []) {
    const y = sy(guide.y);
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#c92a2a" stroke-dasharray="2 4"/>`,
      `<text x="${MARGIN.left + plotW - 4}" y="${y - 4}" text-anchor="end" fill="#c92a2a">${escape(guide.label)}</text>`,
    );
  }
  options.series.forEach((series, i) => {
    const valid = series.points.filter(([x, y]) => x > 0 && y > 0);
    if (valid.length > 0) {
      const path = valid
        .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join(' ');
      const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
      out.push(`<path d="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
      for (const [x, y] of valid)
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${series.color}"/>`);
    }
    const ly = MARGIN.top + 10 + i * 18;
    const lx = MARGIN.left + plotW + 12;
    const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${escape(series.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Decades that contain every value, in log10 units. */
function logBounds(values: readonly number[]): [number, number] {
  const logs = values.filter((value) => value > 0).map(Math.log10);
  if (logs.length === 0) return [0, 1];
  const low = Math.floor(Math.min(...logs));
  const high = Math.ceil(Math.max(...logs));
  return [low, high === low ? low + 1 : high];
}

export function formatNumber(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toPrecision(3)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toPrecision(3)}k`;
  return `${+value.toPrecision(3)}`;
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
