// Label cardinality stays bounded whatever the fleet looks like: operators create groups and
// models freely, and every distinct label value is a new time series in Prometheus. Past `max`
// values, the smallest are folded into one `other` series (totals stay right).

export const OTHER_LABEL = 'other';

/** The values to keep as themselves: the `max - 1` largest by weight (all of them if they fit). */
export function keptLabelValues(weights: ReadonlyMap<string, number>, max: number): Set<string> {
  if (weights.size <= max) return new Set(weights.keys());
  const ranked = [...weights.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return new Set(ranked.slice(0, Math.max(0, max - 1)).map(([value]) => value));
}

/** Sums `rows` by `key` after mapping values outside `kept` to `other` on the label `label`. */
export function foldLabel<R extends Record<string, string>>(
  rows: ReadonlyArray<{ labels: R; value: number }>,
  label: keyof R,
  max: number,
): Array<{ labels: R; value: number }> {
  const weights = new Map<string, number>();
  const labelValue = (labels: R): string => labels[label] ?? '';
  for (const r of rows) weights.set(labelValue(r.labels), (weights.get(labelValue(r.labels)) ?? 0) + r.value);
  const kept = keptLabelValues(weights, max);
  const folded = new Map<string, { labels: R; value: number }>();
  for (const r of rows) {
    const value = labelValue(r.labels);
    const labels = { ...r.labels, [label]: kept.has(value) ? value : OTHER_LABEL };
    const key = JSON.stringify(Object.entries(labels).sort());
    const existing = folded.get(key);
    if (existing) existing.value += r.value;
    else folded.set(key, { labels, value: r.value });
  }
  return [...folded.values()];
}
