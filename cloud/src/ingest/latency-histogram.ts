// Devices send a latency summary per window (count, min, quantiles, max, mean), not a histogram:
// summaries cannot be merged. At ingest each summary becomes counts over fixed buckets, which merge
// exactly by addition across windows, devices, minutes and hours, and give fleet quantiles back
// (histogramQuantile) with an error bounded by the bucket widths and the summary's own resolution.
import type { LatencySummary } from '@edgeloop/shared';

/** Upper bounds (ms, inclusive) of the latency buckets; a last, open bucket catches the rest. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
];
/** Number of counts in a latency histogram: one per bound plus the open bucket. */
export const LATENCY_HISTOGRAM_LENGTH = LATENCY_BUCKETS_MS.length + 1;

/** Share of a window's inferences between consecutive points of its summary. */
const SEGMENTS: ReadonlyArray<{ from: keyof LatencySummary; to: keyof LatencySummary; share: number }> = [
  { from: 'min', to: 'p50', share: 0.5 },
  { from: 'p50', to: 'p95', share: 0.45 },
  { from: 'p95', to: 'p99', share: 0.04 },
  { from: 'p99', to: 'max', share: 0.01 },
];

function bucketOf(ms: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (ms <= (LATENCY_BUCKETS_MS[i] as number)) return i;
  return LATENCY_BUCKETS_MS.length;
}

/** Lower and upper edge of bucket `i` (the open bucket ends at +Infinity). */
function bucketEdges(i: number): [number, number] {
  return [
    i === 0 ? 0 : (LATENCY_BUCKETS_MS[i - 1] as number),
    LATENCY_BUCKETS_MS[i] ?? Number.POSITIVE_INFINITY,
  ];
}

/**
 * Spreads `summary.count` inferences over the buckets: each inter-quantile segment gets its share,
 * spread uniformly over the latency range it covers. Integer counts that sum to `count` exactly
 * (largest remainder), so merged histograms keep exact totals.
 */
export function histogramFromSummary(summary: LatencySummary | null): number[] {
  const counts = new Array<number>(LATENCY_HISTOGRAM_LENGTH).fill(0);
  if (summary === null || summary.count === 0) return counts;
  // Runs once per ingested window: scratch arrays and plain loops, no per-call objects to sort.
  const mass = scratchMass.fill(0);
  for (const { from, to, share } of SEGMENTS) {
    const lo = summary[from];
    const hi = summary[to];
    const first = bucketOf(lo);
    const last = bucketOf(hi);
    if (first === last || hi <= lo) {
      mass[last] = (mass[last] as number) + share;
      continue;
    }
    for (let i = first; i <= last; i++) {
      const [edgeLo, edgeHi] = bucketEdges(i);
      const overlap = Math.min(hi, edgeHi) - Math.max(lo, edgeLo);
      mass[i] = (mass[i] as number) + (share * Math.max(0, overlap)) / (hi - lo);
    }
  }
  const rest = scratchRest;
  let assigned = 0;
  for (let i = 0; i < LATENCY_HISTOGRAM_LENGTH; i++) {
    const exact = (mass[i] as number) * summary.count;
    const whole = Math.floor(exact);
    counts[i] = whole;
    rest[i] = exact - whole;
    assigned += whole;
  }
  if (assigned >= summary.count) return counts;
  // Largest remainder first; equal remainders in bucket order.
  const order = scratchOrder;
  for (let i = 0; i < LATENCY_HISTOGRAM_LENGTH; i++) order[i] = i;
  order.sort((a, b) => (rest[b] as number) - (rest[a] as number) || a - b);
  for (let k = 0; assigned < summary.count; k = (k + 1) % LATENCY_HISTOGRAM_LENGTH) {
    const i = order[k] as number;
    counts[i] = (counts[i] as number) + 1;
    assigned++;
  }
  return counts;
}

const scratchMass = new Float64Array(LATENCY_HISTOGRAM_LENGTH);
const scratchRest = new Float64Array(LATENCY_HISTOGRAM_LENGTH);
const scratchOrder = new Int32Array(LATENCY_HISTOGRAM_LENGTH);

/** Element-wise sum (what `edgeloop_array_sum` does in SQL); shorter arrays count as zeros. */
export function mergeHistograms(a: readonly number[], b: readonly number[]): number[] {
  const length = Math.max(a.length, b.length);
  return Array.from({ length }, (_, i) => (a[i] ?? 0) + (b[i] ?? 0));
}

/**
 * The q-quantile (0..1) of a histogram, interpolating linearly inside the bucket that holds it, as
 * Prometheus's histogram_quantile does. The open bucket answers with its lower edge. Null if empty.
 */
export function histogramQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, c) => sum + c, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c > 0 && seen + c >= rank) {
      const [lo, hi] = bucketEdges(i);
      if (!Number.isFinite(hi)) return lo;
      return lo + ((hi - lo) * (rank - seen)) / c;
    }
    seen += c;
  }
  return bucketEdges(counts.length - 1)[0];
}
