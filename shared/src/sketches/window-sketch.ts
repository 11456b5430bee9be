import * as z from 'zod';
import { base64Decode, base64Encode, isBase64 } from '../encoding.ts';
import { BinnedHistogram } from './binned-histogram.ts';
import { incompatibleSketches, invalidSketch } from './errors.ts';
import type { FeatureSample } from './features.ts';
import { QuantileSketch } from './quantile-sketch.ts';
import {
  FINGERPRINT_PATTERN,
  featureNameSchema,
  type SketchSpec,
  sketchSpecFingerprint,
} from './sketch-spec.ts';
import { ByteReader, ByteWriter } from './varint.ts';

const PACKED_FORMAT = 1;
const base64Schema = z.string().refine(isBase64, 'must be base64');

/**
 * `telemetryWindow.sketches`: a window's drift sketches as JSON. `packed` is base64 of varints:
 * format (1), samples n, classes K, K predicted-class counts, features F, then per feature in the
 * spec's order its bin count B and B counts. F is 0 when the device had no spec; `spec` then is
 * absent and the features travel as quantile sketches only.
 */
export const windowSketchWireSchema = z.object({
  v: z.literal(1),
  /** Fingerprint of the `SketchSpec` whose edges the packed bin counts use. */
  spec: z.string().regex(FINGERPRINT_PATTERN, 'spec must be 8 lowercase hex digits').optional(),
  packed: base64Schema.max(16_384),
  /** DDSketch per feature (`QuantileSketch.encode()`), for features without reference edges. */
  quantiles: z.record(featureNameSchema, base64Schema.max(16_384)).optional(),
});
export type WindowSketchWire = z.infer<typeof windowSketchWireSchema>;

export interface WindowSketchOptions {
  /** Bin every spec feature against its edges (what a device does once it has the profile). */
  spec?: SketchSpec;
  /** Number of classes; taken from the spec when there is one. */
  classes?: number;
  /** Features to keep as quantile sketches too (or only, without a spec), e.g. `latencyMs`. */
  quantiles?: readonly string[];
  /** Relative accuracy of those quantile sketches. */
  relativeAccuracy?: number;
}

/**
 * One telemetry window's drift summary: per feature, counts in the reference bins and/or a quantile
 * sketch, plus predicted-class counts. Merging two windows is exact for bins and classes and
 * lossless for the quantile sketches, so the cloud can merge any set of windows in any order.
 *
 * @example
 * const window = new WindowSketch({ spec: profile.spec, quantiles: ['latencyMs'] });
 * for (const sample of extractor.observeBatch(batch)) window.add(sample);
 * window.addValue('latencyMs', 3.2);
 * telemetry.sketches = window.toWire(); // ~200 bytes of JSON for the digits model
 * const merged = WindowSketch.fromWire(a, spec).merge(WindowSketch.fromWire(b, spec));
 */
export class WindowSketch {
  readonly spec: SketchSpec | undefined;
  readonly classes: number;
  private readonly fingerprint: string | undefined;
  private readonly bins = new Map<string, BinnedHistogram>();
  private readonly sketches = new Map<string, QuantileSketch>();
  private readonly classTally: number[];
  private samples = 0;

  constructor(options: WindowSketchOptions) {
    const classes = options.spec?.classes ?? options.classes;
    if (classes === undefined || !Number.isInteger(classes) || classes < 2) {
      throw new RangeError('a window sketch needs a spec or a number of classes ≥ 2');
    }
    if (options.spec && options.classes !== undefined && options.classes !== options.spec.classes) {
      throw new RangeError(`classes ${options.classes} disagrees with the spec's ${options.spec.classes}`);
    }
    this.spec = options.spec;
    this.classes = classes;
    this.fingerprint = options.spec ? sketchSpecFingerprint(options.spec) : undefined;
    for (const f of options.spec?.features ?? []) this.bins.set(f.name, new BinnedHistogram(f.edges));
    for (const name of options.quantiles ?? []) {
      if (!featureNameSchema.safeParse(name).success) throw new RangeError(`invalid feature name: ${name}`);
      this.sketches.set(name, new QuantileSketch({ relativeAccuracy: options.relativeAccuracy }));
    }
    this.classTally = new Array<number>(classes).fill(0);
  }

  /** Inferences added with `add` (the sum of the class counts). */
  get count(): number {
    return this.samples;
  }

  get classCounts(): readonly number[] {
    return this.classTally;
  }

  get specFingerprint(): string | undefined {
    return this.fingerprint;
  }

  /** Feature names this window sketches, binned first (in spec order), then quantile-only ones. */
  get featureNames(): string[] {
    return [...new Set([...this.bins.keys(), ...this.sketches.keys()])];
  }

  histogram(feature: string): BinnedHistogram | undefined {
    return this.bins.get(feature);
  }

  quantiles(feature: string): QuantileSketch | undefined {
    return this.sketches.get(feature);
  }

  /** Counts one inference: its class and every feature this window tracks. */
  add(sample: FeatureSample): this {
    const c = sample.predictedClass;
    if (!Number.isInteger(c) || c < 0 || c >= this.classes) {
      throw new RangeError(`predicted class ${c} outside 0..${this.classes - 1}`);
    }
    this.classTally[c] = (this.classTally[c] as number) + 1;
    this.samples++;
    for (const [name, value] of Object.entries(sample.values)) this.addValue(name, value);
    return this;
  }

  /** Adds one value of a feature that is not part of an inference sample (say `latencyMs`). */
  addValue(feature: string, value: number): this {
    this.bins.get(feature)?.add(value);
    if (Number.isFinite(value)) this.sketches.get(feature)?.add(value);
    return this;
  }

  /** A new window with both windows' data; they must share spec, classes and quantile features. */
  merge(other: WindowSketch): WindowSketch {
    if (this.fingerprint !== other.fingerprint || this.classes !== other.classes) {
      throw incompatibleSketches(
        `cannot merge windows of spec ${this.fingerprint ?? 'none'} (${this.classes} classes) and ` +
          `${other.fingerprint ?? 'none'} (${other.classes} classes)`,
      );
    }
    const names = [...this.sketches.keys()];
    if (names.length !== other.sketches.size || names.some((n) => !other.sketches.has(n))) {
      throw incompatibleSketches('cannot merge windows that sketch different quantile features');
    }
    const out = new WindowSketch({ spec: this.spec, classes: this.classes });
    for (const [name, h] of this.bins) out.bins.set(name, h.merge(other.bins.get(name) as BinnedHistogram));
    for (const [name, s] of this.sketches) {
      out.sketches.set(name, s.merge(other.sketches.get(name) as QuantileSketch));
    }
    for (let i = 0; i < this.classes; i++) {
      out.classTally[i] = (this.classTally[i] as number) + (other.classTally[i] as number);
    }
    out.samples = this.samples + other.samples;
    return out;
  }

  toWire(): WindowSketchWire {
    const w = new ByteWriter().uint(PACKED_FORMAT).uint(this.samples).uint(this.classes);
    for (const c of this.classTally) w.uint(c);
    w.uint(this.bins.size);
    for (const h of this.bins.values()) {
      w.uint(h.counts.length);
      for (const c of h.counts) w.uint(c);
    }
    const wire: WindowSketchWire = { v: 1, packed: base64Encode(w.finish()) };
    if (this.fingerprint !== undefined) wire.spec = this.fingerprint;
    if (this.sketches.size > 0) {
      wire.quantiles = Object.fromEntries([...this.sketches].map(([name, s]) => [name, s.encode()]));
    }
    return wire;
  }

  /**
   * Parses a window from the wire (unknown JSON is validated here). Packed bin counts can only be
   * read against the spec they were made with, so a window carrying `spec` needs that spec.
   */
  static fromWire(value: unknown, spec?: SketchSpec): WindowSketch {
    const parsed = windowSketchWireSchema.safeParse(value);
    if (!parsed.success)
      throw invalidSketch(`window sketch: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const wire = parsed.data;
    if (wire.spec !== undefined && (spec === undefined || sketchSpecFingerprint(spec) !== wire.spec)) {
      throw incompatibleSketches(`window was binned with spec ${wire.spec}, which was not supplied`);
    }
    const r = new ByteReader(base64Decode(wire.packed));
    const format = r.uint();
    if (format !== PACKED_FORMAT) throw invalidSketch(`unknown packed window format ${format}`);
    const samples = r.uint();
    const classes = r.uint();
    if (classes < 2 || classes > 1000) throw invalidSketch(`${classes} classes out of range`);
    if (wire.spec !== undefined && classes !== spec?.classes) {
      throw invalidSketch(`${classes} classes where the spec has ${spec?.classes}`);
    }
    const quantileNames = Object.keys(wire.quantiles ?? {});
    const window = new WindowSketch({ spec: wire.spec === undefined ? undefined : spec, classes });
    let classTotal = 0;
    for (let i = 0; i < classes; i++) {
      const c = r.uint();
      window.classTally[i] = c;
      classTotal += c;
    }
    if (classTotal !== samples) throw invalidSketch(`class counts sum to ${classTotal}, not ${samples}`);
    window.samples = samples;
    const featureCount = r.uint();
    const binned = [...window.bins.entries()];
    if (featureCount !== binned.length) {
      throw invalidSketch(`${featureCount} binned features where the spec has ${binned.length}`);
    }
    for (const [name, h] of binned) {
      const bins = r.uint();
      if (bins !== h.counts.length)
        throw invalidSketch(`${name}: ${bins} bins where the spec has ${h.counts.length}`);
      const counts: number[] = [];
      for (let i = 0; i < bins; i++) counts.push(r.uint());
      const filled = new BinnedHistogram(h.edges, counts);
      if (filled.total > samples) throw invalidSketch(`${name}: more values than samples`);
      window.bins.set(name, filled);
    }
    r.end();
    for (const name of quantileNames) {
      window.sketches.set(name, QuantileSketch.decode(wire.quantiles?.[name] as string));
    }
    return window;
  }
}
