import { describe, expect, it } from 'vitest';
import {
  histogramFromSummary,
  histogramQuantile,
  LATENCY_HISTOGRAM_LENGTH,
  mergeHistograms,
} from './latency-histogram.ts';

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
