/** Reading values out of Prometheus's text format (what a Herald node serves at `/metrics`). */

/**
 * The sum of every series of each metric name (labels dropped), e.g. `herald_connections` over its
 * `transport` label, and each labelled series under its name as written (`name{label="value"}`).
 * Comments, histograms' `_bucket` series and values that are not numbers are skipped.
 */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (name.endsWith('_bucket')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    values.set(name, (values.get(name) ?? 0) + value);
    if (line[nameEnd] === '{') values.set(line.slice(0, line.lastIndexOf(' ')), value);
  }
  return values;
}
