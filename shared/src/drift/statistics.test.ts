import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../sketches/quantile-sketch.ts';
import { seededUniform } from '../sketches/random.ts';
import {
  binnedKsDistance,
  chiSquareSurvival,
  jensenShannonDivergence,
  ksCriticalValue,
  PSI_REFERENCE_FLOOR,
  populationStabilityIndex,
  sketchKsDistance,
} from './statistics.ts';

const distributionArb = (k: number) =>
  fc
    .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: k, maxLength: k })
    .filter((p) => p.some((x) => x > 0));

describe('populationStabilityIndex', () => {
  it('follows Σ (a − e) ln(a/e) with half a count added to each window bin', () => {
    const a = [80.5 / 101, 20.5 / 101];
    expect(populationStabilityIndex([0.5, 0.5], [80, 20])).toBeCloseTo(
      (a[0]! - 0.5) * Math.log(a[0]! / 0.5) + (a[1]! - 0.5) * Math.log(a[1]! / 0.5),
      12,
    );
    expect(populationStabilityIndex([0.5, 0.5], [50, 50])).toBe(0);
  });

  it('is non-negative and finite even with empty bins on either side', () => {
    fc.assert(
      fc.property(
        distributionArb(6),
        fc.array(fc.nat({ max: 1000 }), { minLength: 6, maxLength: 6 }),
        (p, counts) => {
          const sum = p.reduce((s, x) => s + x, 0);
          const psi = populationStabilityIndex(
            p.map((x) => x / sum),
            counts,
          );
          expect(psi).toBeGreaterThanOrEqual(-1e-12);
          expect(Number.isFinite(psi)).toBe(true);
        },
      ),
    );
    // An empty reference bin is floored, not divided by zero.
    expect(populationStabilityIndex([0, 1], [1, 99])).toBeCloseTo(
      (1.5 / 101 - PSI_REFERENCE_FLOOR) * Math.log(1.5 / 101 / PSI_REFERENCE_FLOOR) +
        (99.5 / 101 - 1) * Math.log(99.5 / 101),
      12,
    );
  });

  it('without drift averages about (bins − 1)/n, the noise floor the minimum sample size is set by', () => {
    const random = seededUniform(9);
    const n = 300;
    let total = 0;
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < n; i++) counts[Math.floor(random() * 10)]!++;
      total += populationStabilityIndex(new Array(10).fill(0.1), counts);
    }
    expect(total / runs).toBeGreaterThan((0.7 * 9) / n);
    expect(total / runs).toBeLessThan((1.3 * 9) / n);
  });
});

describe('KS distances', () => {
  it('read the largest CDF gap at the bin edges', () => {
    expect(binnedKsDistance([0.25, 0.25, 0.5], [0, 0, 10])).toBe(0.5);
    expect(binnedKsDistance([0.25, 0.25, 0.5], [25, 25, 50])).toBe(0);
    expect(binnedKsDistance([0.5, 0.5], [0, 0])).toBe(0);
  });

  it('between sketches match the exact two-sample KS to within the sketch resolution', () => {
    const random = seededUniform(4);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const a = Array.from({ length: 1000 }, () => 10 + normal());
    const b = Array.from({ length: 1000 }, () => 10.5 + normal());
    const sketch = (xs: number[]) =>
      xs.reduce((s, x) => s.add(x), new QuantileSketch({ relativeAccuracy: 0.001 }));
    const exact = Math.max(
      ...[...a, ...b].map((t) =>
        Math.abs(a.filter((x) => x <= t).length / 1000 - b.filter((x) => x <= t).length / 1000),
      ),
    );
    expect(Math.abs(sketchKsDistance(sketch(a), sketch(b)) - exact)).toBeLessThan(0.01);
    expect(sketchKsDistance(sketch(a), sketch(a))).toBe(0);
  });

  it('critical value matches the textbook 1.358·√((n+m)/nm) at 5 %, and holds its level under H0', () => {
    expect(ksCriticalValue(0.05, 100, 100)).toBeCloseTo(1.3581 * Math.sqrt(2 / 100), 3);
    const random = seededUniform(21);
    const edges = Array.from({ length: 19 }, (_, i) => (i + 1) / 20);
    let rejections = 0;
    const runs = 2000;
    for (let r = 0; r < runs; r++) {
      const counts = new Array<number>(20).fill(0);
      for (let i = 0; i < 200; i++) {
        const u = random();
        counts[edges.filter((e) => e <= u).length]!++;
      }
      // The reference is the exact uniform distribution: m → ∞.
      if (binnedKsDistance(new Array(20).fill(0.05), counts) > ksCriticalValue(0.05, 200, 1e12)) rejections++;
    }
    console.log(`binned KS false-rejection rate at α = 5 %: ${((100 * rejections) / runs).toFixed(2)} %`);
    expect(rejections / runs).toBeLessThan(0.05);
    expect(rejections / runs).toBeGreaterThan(0.01); // conservative, not blind
  });
});

describe('jensenShannonDivergence', () => {
  it('is 0 for equal, 1 for disjoint distributions, and ignores scale', () => {
    expect(jensenShannonDivergence([1, 0], [0, 1])).toBe(1);
    expect(jensenShannonDivergence([10, 10], [1, 1])).toBe(0);
    expect(jensenShannonDivergence([0, 0], [1, 1])).toBe(0);
  });

  it('is symmetric and bounded by [0, 1]', () => {
    fc.assert(
      fc.property(distributionArb(5), distributionArb(5), (p, q) => {
        const js = jensenShannonDivergence(p, q);
        expect(js).toBeGreaterThanOrEqual(0);
        expect(js).toBeLessThanOrEqual(1);
        expect(js).toBeCloseTo(jensenShannonDivergence(q, p), 12);
      }),
    );
  });
});

describe('chiSquareSurvival', () => {
  it('matches table values and the closed form for 2 degrees of freedom', () => {
    expect(chiSquareSurvival(3.841459, 1)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(18.307038, 10)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(21.665994, 9)).toBeCloseTo(0.01, 6);
    expect(chiSquareSurvival(0, 3)).toBe(1);
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 200, noNaN: true }), (x) => {
        expect(chiSquareSurvival(x, 2)).toBeCloseTo(Math.exp(-x / 2), 10);
      }),
    );
  });
});
