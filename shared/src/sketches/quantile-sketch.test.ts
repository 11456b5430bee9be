import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Encode } from '../encoding.ts';
import { SketchError } from './errors.ts';
import { QuantileSketch, ZERO_THRESHOLD } from './quantile-sketch.ts';
import { seededUniform } from './random.ts';

const ALPHAS = [0.001, 0.01, 0.05] as const;
// Values across 24 orders of magnitude, both signs, and exact zeros: the shapes that break sketches.
const valueArb = fc.oneof(
  fc.double({ min: -1e12, max: 1e12, noNaN: true }),
  fc.double({ min: -1e-6, max: 1e-6, noNaN: true }),
  fc.constant(0),
  fc.integer({ min: 0, max: 5 }),
);
const valuesArb = fc.array(valueArb, { minLength: 1, maxLength: 300 });
const sketchOf = (values: readonly number[], relativeAccuracy = 0.01) => {
  const s = new QuantileSketch({ relativeAccuracy });
  for (const v of values) s.add(v);
  return s;
};
// Float rounding at a bucket boundary can cost a few ulps beyond α.
const within = (estimate: number, truth: number, alpha: number) =>
  Math.abs(estimate - truth) <= alpha * Math.abs(truth) * (1 + 1e-9) + ZERO_THRESHOLD;

describe('QuantileSketch (DDSketch)', () => {
  it('treats -0 as 0 for min and max', () => {
    const sketch = sketchOf([-0, 0]);
    expect(Object.is(sketch.min, 0)).toBe(true);
    expect(Object.is(sketch.max, 0)).toBe(true);
  });

  it('returns every quantile within the relative accuracy of the true value at rank ⌊q(n−1)⌋', () => {
    fc.assert(
      fc.property(
        valuesArb,
        fc.constantFrom(...ALPHAS),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true })),
        (values, alpha, qs) => {
          const sketch = sketchOf(values, alpha);
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of [0, 0.01, 0.5, 0.95, 0.99, 1, ...qs]) {
            const truth = sorted[Math.floor(q * (sorted.length - 1))] as number;
            expect(within(sketch.quantile(q), truth, alpha), `q=${q} truth=${truth}`).toBe(true);
          }
          // `+ 0`: the sketch reports -0 as 0 (found by fast-check: [-0, 0] had max -0).
          expect(sketch.min).toBe((sorted[0] as number) + 0);
          expect(sketch.max).toBe((sorted[sorted.length - 1] as number) + 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps the bound on a large lognormal sample, e.g. latencies, in a few hundred buckets', () => {
    const uniform = seededUniform(1);
    const values = Array.from({ length: 20_000 }, () =>
      Math.exp(1 + 1.5 * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())),
    );
    const sketch = sketchOf(values, 0.01);
    const sorted = [...values].sort((a, b) => a - b);
    for (let q = 0; q <= 1; q += 0.01) {
      expect(within(sketch.quantile(q), sorted[Math.floor(q * (sorted.length - 1))] as number, 0.01)).toBe(
        true,
      );
    }
    expect(sketch.steps().length).toBeLessThan(800);
    expect(sketch.serialize().length).toBeLessThan(2_000);
  });

  it('brackets the true CDF: share ≤ x ≤ cdf(x) ≤ share within x’s bucket', () => {
    fc.assert(
      fc.property(valuesArb, valueArb, (values, x) => {
        const sketch = sketchOf(values, 0.01);
        const share = (t: number) => values.filter((v) => v <= t).length / values.length;
        const gamma = 1.01 / 0.99;
        const upper =
          Math.abs(x) < ZERO_THRESHOLD ? ZERO_THRESHOLD : x > 0 ? x * gamma * (1 + 1e-12) : x / gamma;
        const c = sketch.cdf(x);
        expect(c).toBeGreaterThanOrEqual(share(x));
        expect(c).toBeLessThanOrEqual(share(upper));
      }),
    );
  });

  it('merging sketches of the parts gives the sketch of the whole, bucket for bucket', () => {
    fc.assert(
      fc.property(valuesArb, fc.nat(), (values, cut) => {
        const at = cut % (values.length + 1);
        const merged = sketchOf(values.slice(0, at)).merge(sketchOf(values.slice(at)));
        expect(merged.serialize()).toEqual(sketchOf(values).serialize());
      }),
    );
  });

  it('merge is associative and commutative', () => {
    fc.assert(
      fc.property(valuesArb, valuesArb, valuesArb, (a, b, c) => {
        const [x, y, z] = [sketchOf(a), sketchOf(b), sketchOf(c)];
        expect(x.merge(y).merge(z).serialize()).toEqual(x.merge(y.merge(z)).serialize());
        expect(x.merge(y).serialize()).toEqual(y.merge(x).serialize());
      }),
    );
  });

  it('round-trips through bytes and base64, empty or not', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { maxLength: 300 }), fc.constantFrom(...ALPHAS), (values, alpha) => {
        const sketch = sketchOf(values, alpha);
        const back = QuantileSketch.decode(sketch.encode());
        expect(back.serialize()).toEqual(sketch.serialize());
        expect(back.count).toBe(values.length);
        expect(back.relativeAccuracy).toBe(alpha);
        if (values.length > 0) expect(back.quantile(0.5)).toBe(sketch.quantile(0.5));
      }),
    );
  });

  it('rejects garbage with a SketchError, never anything else', () => {
    fc.assert(
      // Half of the inputs start with a valid header, so the checks past it get exercised too.
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (tail, withHeader) => {
        const bytes = withHeader ? Uint8Array.of(1, 0x90, 0x4e, ...tail) : tail;
        try {
          const s = QuantileSketch.deserialize(bytes);
          expect(s.serialize()).toEqual(bytes); // whatever decodes must be canonical
        } catch (err) {
          expect(err).toBeInstanceOf(SketchError);
        }
      }),
    );
    const valid = sketchOf([1, 2, 3]).serialize();
    expect(() => QuantileSketch.deserialize(valid.slice(0, -1))).toThrow(SketchError);
    expect(() => QuantileSketch.deserialize(Uint8Array.of(...valid, 0))).toThrow(/trailing/);
    expect(() => QuantileSketch.deserialize(Uint8Array.of(2, ...valid.slice(1)))).toThrow(/format/);
    expect(() => QuantileSketch.decode('not base64!')).toThrow(SketchError);
    // one bucket with a count of zero
    expect(() => QuantileSketch.deserialize(Uint8Array.of(1, 0x90, 0x4e, 0, 1, 0, 0, 0))).toThrow(
      /empty bucket/,
    );
    expect(() => QuantileSketch.decode(base64Encode(Uint8Array.of(1, 1, 0, 0, 0)))).toThrow(/ppm/);
  });

  it('refuses values and parameters it cannot honour', () => {
    expect(() => new QuantileSketch().add(Number.NaN)).toThrow(RangeError);
    expect(() => new QuantileSketch().add(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => new QuantileSketch({ relativeAccuracy: 0.6 })).toThrow(RangeError);
    expect(() => new QuantileSketch({ relativeAccuracy: 0.0100001 })).toThrow(/millionths/);
    expect(() => sketchOf([1], 0.01).merge(sketchOf([1], 0.02))).toThrow(SketchError);
    expect(new QuantileSketch().quantile(0.5)).toBeNaN();
  });
});
