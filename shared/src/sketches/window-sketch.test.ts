import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildReferenceProfile } from '../drift/reference-profile.ts';
import { SYNTHETIC_CLASSES, SYNTHETIC_PREPROCESSING, SyntheticCamera } from '../drift/synthetic.ts';
import { base64Encode, utf8Encode } from '../encoding.ts';
import { telemetryWindowPayload } from '../messages/telemetry.ts';
import { SketchError } from './errors.ts';
import { FeatureExtractor, type FeatureSample } from './features.ts';
import { type SketchSpec, sketchSpecFingerprint, sketchSpecSchema } from './sketch-spec.ts';
import { ByteWriter } from './varint.ts';
import { WindowSketch } from './window-sketch.ts';

const spec: SketchSpec = sketchSpecSchema.parse({
  v: 1,
  classes: 3,
  projection: null,
  features: [
    { name: 'brightness', edges: [0.1, 0.2, 0.3] },
    { name: 'confidence', edges: [0.5, 0.9] },
  ],
});
const sampleArb: fc.Arbitrary<FeatureSample> = fc.record({
  values: fc.record({
    brightness: fc.double({ min: 0, max: 0.5, noNaN: true }),
    confidence: fc.double({ min: 0.3, max: 1, noNaN: true }),
    latencyMs: fc.double({ min: 0.1, max: 50, noNaN: true }),
  }),
  predictedClass: fc.nat({ max: 2 }),
});
const samplesArb = fc.array(sampleArb, { maxLength: 80 });
const windowOf = (samples: readonly FeatureSample[]) => {
  const w = new WindowSketch({ spec, quantiles: ['latencyMs'] });
  for (const s of samples) w.add(s);
  return w;
};
const wire = (w: WindowSketch) => JSON.parse(JSON.stringify(w.toWire()));

describe('WindowSketch', () => {
  it('round-trips through JSON and back, against its spec', () => {
    fc.assert(
      fc.property(samplesArb, (samples) => {
        const w = windowOf(samples);
        const back = WindowSketch.fromWire(wire(w), spec);
        expect(back.toWire()).toEqual(w.toWire());
        expect(back.count).toBe(samples.length);
        expect(back.histogram('brightness')?.counts).toEqual(w.histogram('brightness')?.counts);
      }),
    );
  });

  it('merging the windows of the parts gives exactly the window of the whole', () => {
    fc.assert(
      fc.property(samplesArb, fc.nat(), (samples, cut) => {
        const at = cut % (samples.length + 1);
        const merged = windowOf(samples.slice(0, at)).merge(windowOf(samples.slice(at)));
        expect(merged.toWire()).toEqual(windowOf(samples).toWire());
      }),
    );
  });

  it('merge is associative and commutative', () => {
    fc.assert(
      fc.property(samplesArb, samplesArb, samplesArb, (a, b, c) => {
        const [x, y, z] = [windowOf(a), windowOf(b), windowOf(c)];
        expect(x.merge(y).merge(z).toWire()).toEqual(x.merge(y.merge(z)).toWire());
        expect(x.merge(y).toWire()).toEqual(y.merge(x).toWire());
      }),
    );
  });

  it('refuses to merge or read windows made against another spec', () => {
    const other = sketchSpecSchema.parse({ ...spec, features: [{ name: 'brightness', edges: [0.1, 0.25] }] });
    const mine = windowOf([]);
    expect(() => mine.merge(new WindowSketch({ spec: other, quantiles: ['latencyMs'] }))).toThrow(
      SketchError,
    );
    expect(() => mine.merge(new WindowSketch({ spec }))).toThrow(/quantile features/);
    expect(() => WindowSketch.fromWire(wire(mine), other)).toThrow(/was not supplied/);
    expect(() => WindowSketch.fromWire(wire(mine))).toThrow(/was not supplied/);
  });

  it('rejects garbage in the packed counts with a SketchError', () => {
    const packed = (build: (w: ByteWriter) => ByteWriter) =>
      WindowSketch.fromWire(
        { v: 1, spec: sketchSpecFingerprint(spec), packed: base64Encode(build(new ByteWriter()).finish()) },
        spec,
      );
    const header = (w: ByteWriter) => w.uint(1).uint(2).uint(3).uint(1).uint(1).uint(0);
    const bins = (w: ByteWriter, counts: number[]) => {
      w.uint(counts.length);
      for (const c of counts) w.uint(c);
      return w;
    };
    expect(() => packed((w) => bins(bins(header(w).uint(2), [1, 1, 0, 0]), [0, 2, 0]))).not.toThrow();
    expect(() => packed((w) => w.uint(1).uint(3).uint(3).uint(1).uint(1).uint(0).uint(0))).toThrow(
      /sum to 2, not 3/,
    );
    expect(() => packed((w) => header(w).uint(1))).toThrow(/1 binned features/);
    expect(() => packed((w) => bins(header(w).uint(2), [1, 1, 0]))).toThrow(/3 bins/);
    expect(() => packed((w) => bins(bins(header(w).uint(2), [1, 1, 1, 0]), [0, 2, 0]))).toThrow(
      /more values/,
    );
    expect(() => packed((w) => bins(bins(header(w).uint(2), [1, 1, 0, 0]), [0, 2, 0]).uint(0))).toThrow(
      /trailing/,
    );
    expect(() => packed((w) => w.uint(1).uint(0).uint(4))).toThrow(/4 classes where the spec has 3/);
    expect(() => WindowSketch.fromWire({ v: 1, packed: '@@@@' })).toThrow(SketchError);
    expect(() => WindowSketch.fromWire({ v: 2, packed: '' })).toThrow(SketchError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          WindowSketch.fromWire(
            { v: 1, spec: sketchSpecFingerprint(spec), packed: base64Encode(bytes) },
            spec,
          );
        } catch (err) {
          expect(err).toBeInstanceOf(SketchError);
        }
      }),
    );
  });

  it('rides in telemetry windows, which still validate without it and refuse junk in it', () => {
    const w = windowOf([{ values: { brightness: 0.15, confidence: 0.95, latencyMs: 3 }, predictedClass: 2 }]);
    const base = {
      v: 1 as const,
      deviceId: 'cam-1',
      seq: 1,
      windowStart: 0,
      windowEnd: 60_000,
      model: null,
      inferences: 1,
      errors: 0,
      latencyMs: null,
      classCounts: [0, 0, 1],
      meanConfidence: 0.95,
    };
    const decoded = telemetryWindowPayload.decode(
      telemetryWindowPayload.encode({ ...base, sketches: w.toWire() }),
    );
    expect(decoded.ok && WindowSketch.fromWire(decoded.value.sketches, spec).toWire()).toEqual(w.toWire());
    expect(telemetryWindowPayload.check(base).ok).toBe(true);
    expect(telemetryWindowPayload.check({ ...base, sketches: { brightness: [1, 2] } }).ok).toBe(false);
  });
});

describe('bytes per window for the default digits model (grey 28×28, 10 classes, 4 projected dims)', () => {
  it('stays well under the ~800-byte budget when binned against the reference', () => {
    const camera = new SyntheticCamera(1);
    const profile = buildReferenceProfile({
      preprocessing: SYNTHETIC_PREPROCESSING,
      classes: SYNTHETIC_CLASSES,
      projection: { seed: 7, dims: 4 },
      observations: Array.from({ length: 1000 }, () => camera.observe()),
    });
    const extractor = new FeatureExtractor({
      preprocessing: SYNTHETIC_PREPROCESSING,
      classes: SYNTHETIC_CLASSES,
      projection: { seed: 7, dims: 4 },
    });
    const sizes: Record<string, number> = {};
    for (const perWindow of [60, 600]) {
      const binned = new WindowSketch({ spec: profile.spec });
      const quantileOnly = new WindowSketch({
        classes: SYNTHETIC_CLASSES,
        quantiles: profile.spec.features.map((f) => f.name),
        relativeAccuracy: 0.05,
      });
      for (let i = 0; i < perWindow; i++) {
        const sample = extractor.observe(camera.observe());
        binned.add(sample);
        quantileOnly.add(sample);
      }
      sizes[`binned, ${perWindow}/window`] = utf8Encode(JSON.stringify(binned.toWire())).length;
      sizes[`quantiles α=5%, ${perWindow}/window`] = utf8Encode(JSON.stringify(quantileOnly.toWire())).length;
    }
    // The whole telemetry message a device sends each minute, sketches included.
    const binned = new WindowSketch({ spec: profile.spec });
    for (let i = 0; i < 60; i++) binned.add(extractor.observe(camera.observe()));
    const message = telemetryWindowPayload.encode({
      v: 1,
      deviceId: 'pi-zero-2w-0042',
      seq: 123_456,
      windowStart: 1_767_225_600_000,
      windowEnd: 1_767_225_660_000,
      model: { name: 'digits', version: '12', variant: 'int8', sha256: 'ab'.repeat(32) },
      inferences: 60,
      errors: 0,
      latencyMs: { count: 60, min: 0.91, max: 4.2, mean: 1.23, p50: 1.1, p95: 2.4, p99: 3.9 },
      classCounts: [...binned.classCounts],
      meanConfidence: 0.93,
      sketches: binned.toWire(),
    });
    sizes['telemetry message, 60/window'] = message.length;
    console.log(
      'sketch JSON bytes per window:',
      sizes,
      `→ ${(message.length * 60) / 1000} kB per device-hour`,
    );
    expect(message.length * 60).toBeLessThan(50_000);
    expect(sizes['binned, 60/window']).toBeLessThan(300);
    expect(sizes['binned, 600/window']).toBeLessThan(400);
  });
});
