/** Number, time and size formats shared by the pages. */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** 1234 → "1,234"; past 100,000 → "123.4K". */
export function formatCount(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return Math.abs(value) >= 100_000 ? compact.format(value) : integer.format(value);
}

/** A rate per second: one decimal below 10, whole numbers above. */
export function formatRate(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (value > 0 && value < 10) return value.toFixed(1);
  return formatCount(value);
}

/** 93784 s → "1d 2h", 3725 → "1h 2m", 65 → "1m 5s". */
export function formatUptime(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** A clock time with seconds, e.g. "14:03:27". */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
}

/** JSON for display: compact when short, indented otherwise. */
export function formatJson(value: unknown): string {
  const flat = JSON.stringify(value);
  if (flat === undefined) return 'undefined';
  return flat.length <= 80 ? flat : JSON.stringify(value, null, 2);
}
