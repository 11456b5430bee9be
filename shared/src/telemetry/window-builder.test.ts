import { describe, expect, it } from 'vitest';
import { EdgeloopError } from '../errors.ts';
import { telemetryWindowSchema } from '../messages/telemetry.ts';
import type { SketchSpec } from '../sketches/sketch-spec.ts';
import { WindowSketch } from '../sketches/window-sketch.ts';
import { percentile, TelemetryWindowBuilder } from './window-builder.ts';

const model = { name: 'digits', version: '3', variant: 'int8' as const, sha256: 'a'.repeat(64) };
const spec: SketchSpec = {
  v: 1,
  classes: 3,
  projection: null,
  features: [{ name: 'brightness', edges: [0.2, 0.5] }],
};
const sample = (brightness: number, predictedClass: number) => ({ values: { brightness }, predictedClass });

describe('TelemetryWindowBuilder', () => {
  it('summarises counts, errors, classes, confidence and exact latency percentiles', () => {
    let clock = 1_000;
    const builder = new TelemetryWindowBuilder({ deviceId: 'web-abcd1234', now: () => clock });
    for (let ms = 1; ms <= 100; ms++)
      builder.recordInference({ latencyMs: ms, classIndex: ms % 3, confidence: 0.5 });
    builder.recordError();
    clock = 61_000;
    const w = builder.close({ seq: 7, model, droppedWindows: 2, classCount: 5 });
    expect(w).toMatchObject({
      v: 1,
      deviceId: 'web-abcd1234',
      seq: 7,
      windowStart: 1_000,
      windowEnd: 61_000,
      model,
      inferences: 101,
      errors: 1,
      classCounts: [33, 34, 33, 0, 0],
      meanConfidence: 0.5,
      droppedWindows: 2,
    });
    expect(w.latencyMs).toEqual({ count: 100, min: 1, max: 100, mean: 50.5, p50: 50, p95: 95, p99: 99 });
    expect(w.sketches).toBeUndefined();
  });

  it('starts the next window where the last ended, with null summaries when nothing succeeded', () => {
    let clock = 5_000;
    const builder = new TelemetryWindowBuilder({ deviceId: 'cam-1', now: () => clock });
    clock = 6_000;
    builder.recordError();
    expect(builder.inferences).toBe(1);
    const first = builder.close({ seq: 0, model: null });
    expect(first).toMatchObject({
      windowStart: 5_000,
      windowEnd: 6_000,
      latencyMs: null,
      meanConfidence: null,
    });
    expect(builder.inferences).toBe(0);
    clock = 9_000;
    builder.recordInference({ latencyMs: 2, classIndex: 1, confidence: 0.9 });
    expect(builder.close({ seq: 1, model: null })).toMatchObject({ windowStart: 6_000, windowEnd: 9_000 });
    clock = 12_000;
    builder.recordInference({ latencyMs: 2, classIndex: 1, confidence: 0.9 });
    builder.restart();
    expect(builder.close({ seq: 2, model: null })).toMatchObject({ windowStart: 12_000, inferences: 0 });
  });

  it('sketches drift features for the reported model only, starting over when the model changes', () => {
    const builder = new TelemetryWindowBuilder({ deviceId: 'cam-1' });
    const other = { ...model, sha256: 'b'.repeat(64) };
    builder.recordInference({
      latencyMs: 1,
      classIndex: 0,
      confidence: 1,
      model: other,
      sketch: { spec, sample: sample(0.1, 0) },
    });
    for (const [b, c] of [
      [0.1, 0],
      [0.3, 1],
      [0.9, 1],
    ] as const)
      builder.recordInference({
        latencyMs: 1,
        classIndex: c,
        confidence: 1,
        model,
        sketch: { spec, sample: sample(b, c) },
      });
    const w = builder.close({ seq: 0, model });
    const sketch = WindowSketch.fromWire(w.sketches, spec);
    expect(sketch.count).toBe(3); // the other model's inference was dropped with its sketch
    expect(sketch.classCounts).toEqual([1, 2, 0]);
    expect(sketch.histogram('brightness')?.counts).toEqual([1, 1, 1]);
    // Closing for a model the sketch was not made with sends no sketch.
    builder.recordInference({
      latencyMs: 1,
      classIndex: 0,
      confidence: 1,
      model,
      sketch: { spec, sample: sample(0.1, 0) },
    });
    expect(builder.close({ seq: 1, model: other }).sketches).toBeUndefined();
  });

  it('keeps count, min, max and mean exact past the sample cap', () => {
    let state = 7;
    const random = () => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state / 0x80000000;
    };
    const builder = new TelemetryWindowBuilder({ deviceId: 'cam-1', latencySampleCap: 500, random });
    const n = 20_000;
    for (let i = 0; i < n; i++)
      builder.recordInference({ latencyMs: (i * 7919) % n, classIndex: 0, confidence: 1 });
    const w = builder.close({ seq: 0, model: null });
    expect(w.latencyMs).toMatchObject({ count: n, min: 0, max: n - 1, mean: (n - 1) / 2 });
    expect(Math.abs((w.latencyMs?.p50 ?? 0) - n / 2)).toBeLessThan(0.08 * n);
    expect(telemetryWindowSchema.safeParse(w).success).toBe(true);
  });

  it('clamps out-of-range values so a window stays sendable, and refuses a bad cap', () => {
    const builder = new TelemetryWindowBuilder({ deviceId: 'cam-1' });
    builder.recordInference({ latencyMs: -5, classIndex: -1, confidence: 3 });
    builder.recordInference({ latencyMs: 1e9, classIndex: 2.5, confidence: -1 });
    const w = builder.close({ seq: 0, model: null });
    expect(w).toMatchObject({ classCounts: [], meanConfidence: 0.5, latencyMs: { min: 0, max: 3_600_000 } });
    expect(() => new TelemetryWindowBuilder({ deviceId: 'cam-1', latencySampleCap: 0 })).toThrow(
      EdgeloopError,
    );
    // A sequence number the wire refuses is an error, not a window.
    expect(() => builder.close({ seq: -1, model: null })).toThrow(/failed its schema/);
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
    expect(percentile([5], 0)).toBe(5);
    expect(() => percentile([], 50)).toThrow(RangeError);
  });
});
