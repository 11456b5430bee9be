// Latency values of one telemetry window. Count, min, max and mean are exact; percentiles are exact
// while the window holds at most `cap` values, past it a uniform reservoir sample of that size is
// kept (Algorithm R), so they become estimates with bounded memory.
import type { LatencySummary } from '../messages/telemetry.ts';

/** Latency values kept per window for percentiles unless a sender chooses otherwise. */
export const DEFAULT_LATENCY_SAMPLE_CAP = 10_000;

// The wire schema bounds latency values; a stalled clock must not make a window unsendable.
const MAX_LATENCY_MS = 3_600_000;

/**
 * Nearest-rank percentile of sorted values (p in 0..100).
 *
 * @example
 * percentile([1, 2, 3, 4], 50); // 2
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no values');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/**
 * Tallies latencies into a `LatencySummary` (null when nothing was recorded).
 *
 * @example
 * const tally = new LatencyTally(10_000, Math.random);
 * tally.record(1.4);
 * tally.summary(); // { count: 1, min: 1.4, max: 1.4, mean: 1.4, p50: 1.4, p95: 1.4, p99: 1.4 }
 */
export class LatencyTally {
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;
  #samples: number[] = [];

  constructor(
    private readonly cap: number,
    /** Source of randomness for the reservoir (tests pass a seeded one). */
    private readonly random: () => number,
  ) {}

  get count(): number {
    return this.#count;
  }

  record(latencyMs: number): void {
    const latency = Math.min(MAX_LATENCY_MS, Math.max(0, latencyMs));
    this.#count++;
    this.#sum += latency;
    this.#min = Math.min(this.#min, latency);
    this.#max = Math.max(this.#max, latency);
    if (this.#samples.length < this.cap) this.#samples.push(latency);
    else {
      const slot = Math.floor(this.random() * this.#count);
      if (slot < this.cap) this.#samples[slot] = latency;
    }
  }

  summary(): LatencySummary | null {
    if (this.#count === 0) return null;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    // Clamp into [min, max]: with a reservoir the sample's extremes may be inside the exact ones.
    const clamp = (v: number) => Math.min(this.#max, Math.max(this.#min, v));
    return {
      count: this.#count,
      min: this.#min,
      max: this.#max,
      mean: clamp(this.#sum / this.#count),
      p50: clamp(percentile(sorted, 50)),
      p95: clamp(percentile(sorted, 95)),
      p99: clamp(percentile(sorted, 99)),
    };
  }
}
