import { incompatibleSketches } from './errors.ts';

/** Index of the bin holding x: the number of edges ≤ x, so bin i is [edges[i−1], edges[i]). */
export function binIndex(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Throws unless the edges are finite and strictly increasing (a bin of zero width never fills). */
export function checkEdges(edges: readonly number[]): void {
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i] as number;
    if (!Number.isFinite(e)) throw new RangeError(`bin edge ${i} is not finite: ${e}`);
    if (i > 0 && !(e > (edges[i - 1] as number))) throw new RangeError('bin edges must strictly increase');
  }
}

function sameEdges(a: readonly number[], b: readonly number[]): boolean {
  return a === b || (a.length === b.length && a.every((e, i) => e === b[i]));
}

/**
 * Counts of values in fixed bins: E edges make E + 1 bins, the first (−∞, e0) and the last
 * [e(E−1), +∞) catching whatever falls outside the reference range. With edges at the reference
 * profile's deciles every bin holds about a tenth of the reference, a window costs a few bytes per
 * feature, merging is exact addition, and PSI reads straight off the counts.
 *
 * @example
 * const h = new BinnedHistogram([0.1, 0.2, 0.3]); // 4 bins
 * h.add(0.05).add(0.25).add(0.25);
 * h.counts; // [1, 0, 2, 0]
 * h.merge(new BinnedHistogram([0.1, 0.2, 0.3], [0, 1, 0, 0])).counts; // [1, 1, 2, 0]
 */
export class BinnedHistogram {
  readonly edges: readonly number[];
  private readonly bins: number[];

  constructor(edges: readonly number[], counts?: readonly number[]) {
    checkEdges(edges);
    this.edges = edges;
    if (counts !== undefined) {
      if (counts.length !== edges.length + 1) {
        throw new RangeError(`${edges.length} edges need ${edges.length + 1} counts, got ${counts.length}`);
      }
      if (!counts.every((c) => Number.isSafeInteger(c) && c >= 0)) {
        throw new RangeError('counts must be natural numbers');
      }
    }
    this.bins = counts ? [...counts] : new Array<number>(edges.length + 1).fill(0);
  }

  get counts(): readonly number[] {
    return this.bins;
  }

  get total(): number {
    let sum = 0;
    for (const c of this.bins) sum += c;
    return sum;
  }

  /** NaN is skipped: it has no place on the line, and one bad tensor must not poison the window. */
  add(x: number, count = 1): this {
    if (Number.isNaN(x)) return this;
    const i = binIndex(this.edges, x);
    this.bins[i] = (this.bins[i] as number) + count;
    return this;
  }

  /** A new histogram with both inputs' counts; the edges must be identical. */
  merge(other: BinnedHistogram): BinnedHistogram {
    if (!sameEdges(this.edges, other.edges)) {
      throw incompatibleSketches('cannot merge histograms with different bin edges');
    }
    return new BinnedHistogram(
      this.edges,
      this.bins.map((c, i) => c + (other.bins[i] as number)),
    );
  }

  /** Share of the total in each bin (all zeros when empty). */
  proportions(): number[] {
    const n = this.total;
    return this.bins.map((c) => (n === 0 ? 0 : c / n));
  }
}
