import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinnedHistogram, binIndex } from './binned-histogram.ts';
import { SketchError } from './errors.ts';

const edgesArb = fc
  .uniqueArray(fc.double({ min: -1e6, max: 1e6, noNaN: true }), {
    maxLength: 12,
    comparator: 'SameValueZero',
  })
  .map((e) => e.sort((a, b) => a - b));
const valuesArb = fc.array(fc.double({ min: -2e6, max: 2e6, noNaN: true }), { maxLength: 200 });
const fill = (edges: number[], values: number[]) => {
  const h = new BinnedHistogram(edges);
  for (const v of values) h.add(v);
  return h;
};

describe('BinnedHistogram', () => {
  it('puts x in the bin counting the edges ≤ x (lower edges closed)', () => {
    fc.assert(
      fc.property(edgesArb, fc.double({ noNaN: true }), (edges, x) => {
        expect(binIndex(edges, x)).toBe(edges.filter((e) => e <= x).length);
      }),
    );
    expect(binIndex([1, 2], 1)).toBe(1);
    expect(binIndex([1, 2], Number.NEGATIVE_INFINITY)).toBe(0);
    expect(binIndex([1, 2], Number.POSITIVE_INFINITY)).toBe(2);
  });

  it('merging the histograms of the parts gives exactly the histogram of the whole', () => {
    fc.assert(
      fc.property(edgesArb, valuesArb, fc.nat(), (edges, values, cut) => {
        const at = values.length === 0 ? 0 : cut % values.length;
        const merged = fill(edges, values.slice(0, at)).merge(fill(edges, values.slice(at)));
        expect(merged.counts).toEqual(fill(edges, values).counts);
        expect(merged.total).toBe(values.length);
      }),
    );
  });

  it('merge is associative and commutative', () => {
    fc.assert(
      fc.property(edgesArb, valuesArb, valuesArb, valuesArb, (edges, a, b, c) => {
        const [x, y, z] = [fill(edges, a), fill(edges, b), fill(edges, c)];
        expect(x.merge(y).merge(z).counts).toEqual(x.merge(y.merge(z)).counts);
        expect(x.merge(y).counts).toEqual(y.merge(x).counts);
      }),
    );
  });

  it('refuses to merge across different edges, since the counts would mean different things', () => {
    expect(() => new BinnedHistogram([1, 2]).merge(new BinnedHistogram([1, 3]))).toThrow(SketchError);
  });

  it('rejects edges that are unsorted, repeated or not finite, and counts of the wrong shape', () => {
    expect(() => new BinnedHistogram([2, 1])).toThrow(/strictly increase/);
    expect(() => new BinnedHistogram([1, 1])).toThrow(/strictly increase/);
    expect(() => new BinnedHistogram([Number.NaN])).toThrow(/not finite/);
    expect(() => new BinnedHistogram([1], [1])).toThrow(/need 2 counts/);
    expect(() => new BinnedHistogram([1], [1, -1])).toThrow(/natural/);
  });

  it('skips NaN instead of filing it anywhere', () => {
    const h = new BinnedHistogram([0]).add(Number.NaN).add(1);
    expect(h.counts).toEqual([0, 1]);
    expect(h.proportions()).toEqual([0, 1]);
  });
});
