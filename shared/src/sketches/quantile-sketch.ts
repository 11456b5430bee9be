// DDSketch (Masson, Rim, Lee, VLDB 2019): logarithmic buckets, so every quantile comes back within a
// relative error α of the true value, and merging is adding bucket counts — exact, associative and
// commutative, so a fleet's merged sketch is the sketch of the fleet's data. Written here rather
// than taken from @datadog/sketches-js because that one serialises through protobufjs; this one
// packs into varints, has no dependencies and runs in a browser.
import { base64Decode, base64Encode } from '../encoding.ts';
import { incompatibleSketches, invalidSketch } from './errors.ts';
import { ByteReader, ByteWriter } from './varint.ts';

/**
 * Magnitudes below this count as zero (absolute error ≤ 1e-9 instead of relative): without it a
 * feature that is often almost zero (entropy of a confident model) would spread over thousands of
 * buckets of tiny numbers.
 */
export const ZERO_THRESHOLD = 1e-9;
const FORMAT = 1;
const PPM = 1_000_000;
/** Guards decoding of hostile input; α = 0.01 over 1e-9..1e12 needs ~2,400 buckets. */
const MAX_BUCKETS = 65_536;

export interface QuantileSketchOptions {
  /** Relative accuracy α in [1e-4, 0.5], a whole number of millionths (it travels as an integer). */
  relativeAccuracy?: number;
}

/**
 * A mergeable quantile sketch with a relative-error guarantee: for the value x at rank
 * ⌊q·(n−1)⌋ of everything added, `quantile(q)` returns x̂ with |x̂ − x| ≤ α·|x|
 * (|x̂ − x| ≤ 1e-9 near zero). Size grows with the log of the value range, not with n.
 *
 * @example
 * const latency = new QuantileSketch({ relativeAccuracy: 0.01 });
 * for (const ms of [3.1, 2.9, 40, 3.3]) latency.add(ms);
 * latency.quantile(0.5); // ≈ 3.1, within 1 %
 * const fleet = latency.merge(QuantileSketch.decode(otherDeviceBase64));
 */
export class QuantileSketch {
  readonly relativeAccuracy: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  /** bucket key → count; key k holds magnitudes in (γ^(k−1), γ^k]. */
  private readonly positive = new Map<number, number>();
  private readonly negative = new Map<number, number>();
  private zeroCount = 0;
  private total = 0;
  private low = Number.POSITIVE_INFINITY;
  private high = Number.NEGATIVE_INFINITY;

  constructor(options: QuantileSketchOptions = {}) {
    const alpha = options.relativeAccuracy ?? 0.01;
    const ppm = Math.round(alpha * PPM);
    if (!(alpha >= 1e-4 && alpha <= 0.5) || Math.abs(ppm - alpha * PPM) > 1e-6) {
      throw new RangeError(`relativeAccuracy must be in [1e-4, 0.5] in whole millionths, got ${alpha}`);
    }
    this.relativeAccuracy = ppm / PPM;
    this.gamma = (1 + this.relativeAccuracy) / (1 - this.relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
  }

  get count(): number {
    return this.total;
  }

  /** Smallest value added (exact), NaN when empty. */
  get min(): number {
    return this.total === 0 ? Number.NaN : this.low;
  }

  /** Largest value added (exact), NaN when empty. */
  get max(): number {
    return this.total === 0 ? Number.NaN : this.high;
  }

  /** Adds `count` copies of a finite value; NaN and ±Infinity are refused (they have no bucket). */
  add(value: number, count = 1): this {
    if (!Number.isFinite(value)) throw new RangeError(`cannot sketch a non-finite value: ${value}`);
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a natural number`);
    if (count === 0) return this;
    if (value === 0) value = 0; // -0 is 0: min and max never report a negative zero
    if (Math.abs(value) < ZERO_THRESHOLD) this.zeroCount += count;
    else {
      const store = value > 0 ? this.positive : this.negative;
      const key = this.keyOf(Math.abs(value));
      store.set(key, (store.get(key) ?? 0) + count);
    }
    this.total += count;
    if (value < this.low) this.low = value;
    if (value > this.high) this.high = value;
    return this;
  }

  /** A new sketch holding both inputs' data; both must share α. */
  merge(other: QuantileSketch): QuantileSketch {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw incompatibleSketches(
        `cannot merge sketches of relative accuracy ${this.relativeAccuracy} and ${other.relativeAccuracy}`,
      );
    }
    const out = new QuantileSketch({ relativeAccuracy: this.relativeAccuracy });
    for (const source of [this, other]) {
      for (const [k, c] of source.positive) out.positive.set(k, (out.positive.get(k) ?? 0) + c);
      for (const [k, c] of source.negative) out.negative.set(k, (out.negative.get(k) ?? 0) + c);
      out.zeroCount += source.zeroCount;
      out.total += source.total;
      out.low = Math.min(out.low, source.low);
      out.high = Math.max(out.high, source.high);
    }
    return out;
  }

  /** The value at rank ⌊q·(n−1)⌋, within the relative accuracy; NaN when empty. */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.total === 0) return Number.NaN;
    const rank = Math.floor(q * (this.total - 1));
    let seen = 0;
    for (const [value, count] of this.steps()) {
      seen += count;
      if (seen > rank) return Math.min(this.high, Math.max(this.low, value));
    }
    return this.high;
  }

  /**
   * Share of values ≤ x, counting x's whole bucket: the true share at x ≤ cdf(x) ≤ the true share at
   * x's bucket's upper end (x·γ for positive x). NaN when empty.
   */
  cdf(x: number): number {
    if (this.total === 0) return Number.NaN;
    if (Number.isNaN(x)) throw new RangeError('cdf of NaN');
    if (x < this.low) return 0;
    if (x >= this.high) return 1;
    const bound = this.representative(x);
    let below = 0;
    for (const [value, count] of this.steps()) {
      if (value > bound) break;
      below += count;
    }
    return below / this.total;
  }

  /**
   * Buckets in ascending order as [representative value, count]. Two sketches with the same α share
   * representatives, which is what lets the KS distance walk both at once.
   */
  steps(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const neg = [...this.negative.keys()].sort((a, b) => b - a);
    for (const k of neg) out.push([-this.valueOf(k), this.negative.get(k) as number]);
    if (this.zeroCount > 0) out.push([0, this.zeroCount]);
    const pos = [...this.positive.keys()].sort((a, b) => a - b);
    for (const k of pos) out.push([this.valueOf(k), this.positive.get(k) as number]);
    return out;
  }

  /**
   * Bytes: varint format (1), varint α in millionths, varint zero count, then for the positive and
   * the negative store a varint bucket count followed by (zigzag key delta, varint count) pairs in
   * ascending key order; last, when not empty, float64 min and max.
   */
  serialize(): Uint8Array {
    const w = new ByteWriter()
      .uint(FORMAT)
      .uint(Math.round(this.relativeAccuracy * PPM))
      .uint(this.zeroCount);
    for (const store of [this.positive, this.negative]) {
      const keys = [...store.keys()].sort((a, b) => a - b);
      w.uint(keys.length);
      let previous = 0;
      for (const k of keys) {
        w.int(k - previous).uint(store.get(k) as number);
        previous = k;
      }
    }
    if (this.total > 0) w.float64(this.low).float64(this.high);
    return w.finish();
  }

  /** `serialize()` as base64, the form that travels in JSON. */
  encode(): string {
    return base64Encode(this.serialize());
  }

  /** Parses `serialize()` output; throws a `SketchError` on anything else. */
  static deserialize(bytes: Uint8Array): QuantileSketch {
    const r = new ByteReader(bytes);
    const format = r.uint();
    if (format !== FORMAT) throw invalidSketch(`unknown quantile sketch format ${format}`);
    const ppm = r.uint();
    if (ppm < 100 || ppm > PPM / 2) throw invalidSketch(`relative accuracy ${ppm} ppm out of range`);
    const sketch = new QuantileSketch({ relativeAccuracy: ppm / PPM });
    sketch.zeroCount = r.uint();
    let total = sketch.zeroCount;
    for (const store of [sketch.positive, sketch.negative]) {
      const buckets = r.uint();
      if (buckets > MAX_BUCKETS) throw invalidSketch(`${buckets} buckets exceed ${MAX_BUCKETS}`);
      let key = 0;
      for (let i = 0; i < buckets; i++) {
        const delta = r.int();
        if (i > 0 && delta <= 0) throw invalidSketch('bucket keys must ascend');
        key += delta;
        const count = r.uint();
        if (count === 0) throw invalidSketch('empty bucket');
        store.set(key, count);
        total += count;
      }
    }
    if (!Number.isSafeInteger(total)) throw invalidSketch('count exceeds 2^53');
    sketch.total = total;
    if (total > 0) {
      sketch.low = r.float64();
      sketch.high = r.float64();
      if (!(Number.isFinite(sketch.low) && Number.isFinite(sketch.high) && sketch.low <= sketch.high)) {
        throw invalidSketch('min and max must be finite with min ≤ max');
      }
    }
    r.end();
    return sketch;
  }

  static decode(base64: string): QuantileSketch {
    let bytes: Uint8Array;
    try {
      bytes = base64Decode(base64);
    } catch {
      throw invalidSketch('quantile sketch is not base64');
    }
    return QuantileSketch.deserialize(bytes);
  }

  private keyOf(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.logGamma);
  }

  /** The point of bucket k whose relative distance to both ends is α: 2γ^k / (γ + 1). */
  private valueOf(key: number): number {
    return (2 * this.gamma ** key) / (this.gamma + 1);
  }

  /** x's bucket representative, on the same scale as `steps()` values. */
  private representative(x: number): number {
    if (Math.abs(x) < ZERO_THRESHOLD) return 0;
    const v = this.valueOf(this.keyOf(Math.abs(x)));
    return x > 0 ? v : -v;
  }
}
