import { describe, expect, it } from 'vitest';
import {
  histogramFromSummary,
  histogramQuantile,
  LATENCY_BUCKETS_MS,
  LATENCY_HISTOGRAM_LENGTH,
  mergeHistograms,
} from './latency-histogram.ts';

/** The first, straightforward implementation: the optimised one must give the same counts. */
function referenceHistogram(s: ReturnType<typeof summary>): number[] {
  const bucketOf = (ms: number) => {
    const i = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
    return i === -1 ? LATENCY_BUCKETS_MS.length : i;
  };
  const edges = (i: number): [number, number] => [
    i === 0 ? 0 : (LATENCY_BUCKETS_MS[i - 1] as number),
    LATENCY_BUCKETS_MS[i] ?? Number.POSITIVE_INFINITY,
  ];
  const segments = [
    ['min', 'p50', 0.5],
    ['p50', 'p95', 0.45],
    ['p95', 'p99', 0.04],
    ['p99', 'max', 0.01],
  ] as const;
  const mass = new Array<number>(LATENCY_HISTOGRAM_LENGTH).fill(0);
  for (const [from, to, share] of segments) {
    const lo = s[from];
    const hi = s[to];
    const first = bucketOf(lo);
    const last = bucketOf(hi);
    if (first === last || hi <= lo) {
      mass[last] = (mass[last] as number) + share;
      continue;
    }
    for (let i = first; i <= last; i++) {
      const [edgeLo, edgeHi] = edges(i);
      mass[i] =
        (mass[i] as number) + (share * Math.max(0, Math.min(hi, edgeHi) - Math.max(lo, edgeLo))) / (hi - lo);
    }
  }
  const exact = mass.map((m) => m * s.count);
  const counts = exact.map(Math.floor);
  let assigned = counts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((v, i) => ({ i, rest: v - Math.floor(v) })).sort((a, b) => b.rest - a.rest);
  for (let k = 0; assigned < s.count; k = (k + 1) % byRemainder.length) {
    const { i } = byRemainder[k] as { i: number };
    counts[i] = (counts[i] as number) + 1;
    assigned++;
  }
  return counts;
}

const summary = (count: number, min: number, p50: number, p95: number, p99: number, max: number) => ({
  count,
  min,
  p50,
  p95,
  p99,
  max,
  mean: p50,
});

describe('latency histogram from a window summary', () => {
  it('keeps the exact count and lands quantiles in their buckets', () => {
    const h = histogramFromSummary(summary(1000, 0.3, 3, 8, 20, 400));
    expect(h).toHaveLength(LATENCY_HISTOGRAM_LENGTH);
    expect(h.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(3, 0);
    const p95 = histogramQuantile(h, 0.95) as number;
    expect(p95).toBeGreaterThan(5);
    expect(p95).toBeLessThanOrEqual(10);
  });

  it('puts a constant latency in one bucket, even for one inference', () => {
    const h = histogramFromSummary(summary(1, 7, 7, 7, 7, 7));
    expect(h.filter((c) => c > 0)).toEqual([1]);
    expect(h[6]).toBe(1); // (5, 10] ms
  });

  it('is all zeros without inferences or a summary', () => {
    expect(histogramFromSummary(null).every((c) => c === 0)).toBe(true);
    expect(histogramFromSummary(summary(0, 0, 0, 0, 0, 0)).every((c) => c === 0)).toBe(true);
    expect(histogramQuantile(histogramFromSummary(null), 0.5)).toBeNull();
  });

  it('catches latencies past the last bound in the open bucket', () => {
    const h = histogramFromSummary(summary(100, 6000, 7000, 8000, 9000, 10_000));
    expect(h[LATENCY_HISTOGRAM_LENGTH - 1]).toBe(100);
    expect(histogramQuantile(h, 0.99)).toBe(5000);
  });

  it('gives the same counts as the reference implementation', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let n = 0; n < 2000; n++) {
      const points = Array.from({ length: 5 }, () => random() ** 3 * 8000).sort((a, b) => a - b);
      const [min, p50, p95, p99, max] = points as [number, number, number, number, number];
      const s = summary(Math.floor(random() * 5000), min, p50, p95, p99, max);
      expect(histogramFromSummary(s)).toEqual(referenceHistogram(s));
    }
    expect(histogramFromSummary(summary(3, 1, 1, 1, 1, 1))).toEqual(
      referenceHistogram(summary(3, 1, 1, 1, 1, 1)),
    );
  });

  it('merges element-wise, so the fleet quantile sits between the devices', () => {
    const fast = histogramFromSummary(summary(900, 0.5, 1, 2, 2.4, 2.5));
    const slow = histogramFromSummary(summary(100, 40, 60, 90, 95, 100));
    const fleet = mergeHistograms(fast, slow);
    expect(fleet.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(histogramQuantile(fleet, 0.5) as number).toBeLessThan(2.5);
    expect(histogramQuantile(fleet, 0.95) as number).toBeGreaterThan(25);
    expect(mergeHistograms([1, 2], [3])).toEqual([4, 2]);
  });
});
