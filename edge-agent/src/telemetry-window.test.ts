import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { telemetryWindowSchema } from '@edgeloop/shared';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SequenceCounter } from './sequence.ts';
import { percentile, TelemetryWindowAccumulator } from './telemetry-window.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'el-window-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function counter(name = 'seq.json'): Promise<SequenceCounter> {
  const c = new SequenceCounter(join(dir, name));
  await c.start();
  return c;
}

/** Deterministic PRNG (mulberry32) for the reservoir. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const model = { name: 'digits', version: '3', variant: 'int8' as const, sha256: 'a'.repeat(64) };

describe('TelemetryWindowAccumulator', () => {
  it('summarises counts, errors, classes, confidence and exact latency percentiles', async () => {
    let clock = 1_000;
    const window = new TelemetryWindowAccumulator({
      deviceId: 'cam-1',
      sequence: await counter(),
      now: () => clock,
    });
    for (let ms = 1; ms <= 100; ms++)
      window.recordInference({ latencyMs: ms, classIndex: ms % 3, confidence: 0.5 });
    window.recordInference({ latencyMs: 50, classIndex: 1, confidence: 1 });
    window.recordError();
    window.recordError();
    clock = 61_000;
    const w = await window.close({ model, droppedWindows: 4, classCount: 5 });
    expect(w).toMatchObject({
      v: 1,
      deviceId: 'cam-1',
      seq: 0,
      windowStart: 1_000,
      windowEnd: 61_000,
      model,
      inferences: 103,
      errors: 2,
      classCounts: [33, 35, 33, 0, 0],
      droppedWindows: 4,
    });
    expect(w.meanConfidence).toBeCloseTo((100 * 0.5 + 1) / 101, 10);
    const sorted = [...Array.from({ length: 100 }, (_, i) => i + 1), 50].sort((a, b) => a - b);
    expect(w.latencyMs).toEqual({
      count: 101,
      min: 1,
      max: 100,
      mean: sorted.reduce((a, b) => a + b, 0) / 101,
      p50: 50,
      p95: sorted[Math.ceil(0.95 * 101) - 1],
      p99: sorted[Math.ceil(0.99 * 101) - 1],
    });
  });

  it('emits an empty window with null summaries and starts the next where the last ended', async () => {
    let clock = 5_000;
    const window = new TelemetryWindowAccumulator({
      deviceId: 'cam-1',
      sequence: await counter(),
      now: () => clock,
    });
    clock = 6_000;
    const first = await window.close({ model: null, droppedWindows: 0 });
    expect(first).toMatchObject({ inferences: 0, latencyMs: null, meanConfidence: null, classCounts: [] });
    clock = 9_000;
    window.recordError();
    const second = await window.close({ model: null, droppedWindows: 0 });
    expect(second).toMatchObject({ seq: 1, windowStart: 6_000, windowEnd: 9_000, inferences: 1, errors: 1 });
  });

  it('matches a reference summary for any latencies under the cap (property)', async () => {
    const sequence = await counter();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 5_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        async (latencies) => {
          const window = new TelemetryWindowAccumulator({
            deviceId: 'cam-1',
            sequence,
            latencySampleCap: 300,
          });
          for (const latencyMs of latencies)
            window.recordInference({ latencyMs, classIndex: 0, confidence: 1 });
          const w = await window.close({ model: null, droppedWindows: 0 });
          const sorted = [...latencies].sort((a, b) => a - b);
          expect(w.latencyMs?.p50).toBe(percentile(sorted, 50));
          expect(w.latencyMs?.p99).toBe(percentile(sorted, 99));
          expect(w.latencyMs?.min).toBe(sorted[0]);
          expect(w.latencyMs?.max).toBe(sorted.at(-1));
          expect(telemetryWindowSchema.safeParse(w).success).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps count, min, max and mean exact past the sample cap and estimates percentiles', async () => {
    const window = new TelemetryWindowAccumulator({
      deviceId: 'cam-1',
      sequence: await counter(),
      latencySampleCap: 1_000,
      random: seeded(7),
    });
    const n = 50_000;
    // A permutation of 0..n-1 ms, so the true percentiles are known exactly.
    const values = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    for (const latencyMs of values) window.recordInference({ latencyMs, classIndex: 2, confidence: 0.9 });
    const w = await window.close({ model: null, droppedWindows: 0 });
    expect(w.latencyMs).toMatchObject({ count: n, min: 0, max: n - 1, mean: (n - 1) / 2 });
    // A 1,000-sample reservoir puts the median within a few percent of the truth.
    expect(Math.abs((w.latencyMs?.p50 ?? 0) - 0.5 * n)).toBeLessThan(0.05 * n);
    expect(Math.abs((w.latencyMs?.p95 ?? 0) - 0.95 * n)).toBeLessThan(0.03 * n);
    expect(w.classCounts).toEqual([0, 0, n]);
  });
});

describe('SequenceCounter', () => {
  it('summarises shadow runs per window and starts over for a different shadow model', async () => {
    const window = new TelemetryWindowAccumulator({ deviceId: 'cam-1', sequence: await counter() });
    const shadow = { ...model, version: '4', sha256: 'b'.repeat(64) };
    const other = { ...model, version: '5', sha256: 'c'.repeat(64) };
    window.recordShadow({ model: other, ok: true, agreed: true, latencyMs: 9 });
    for (const [agreed, latencyMs] of [
      [true, 2],
      [false, 4],
      [true, 6],
    ] as const)
      window.recordShadow({ model: shadow, ok: true, agreed, latencyMs });
    window.recordShadow({ model: shadow, ok: false });
    const first = await window.close({ model });
    expect(first.shadow).toEqual({
      model: shadow,
      frames: 4,
      agreements: 2,
      errors: 1,
      latencyMs: { count: 3, min: 2, max: 6, mean: 4, p50: 4, p95: 6, p99: 6 },
    });
    expect(telemetryWindowSchema.safeParse(first).success).toBe(true);
    // Nothing ran in the next window: no shadow summary; only errors: a null latency summary.
    expect((await window.close({ model })).shadow).toBeUndefined();
    window.recordShadow({ model: shadow, ok: false });
    expect((await window.close({ model })).shadow).toMatchObject({ frames: 1, errors: 1, latencyMs: null });
  });

  it('never repeats a number across restarts', async () => {
    const first = await counter();
    expect([await first.take(), await first.take(), await first.take()]).toEqual([0, 1, 2]);
    const afterRestart = await counter();
    expect(await afterRestart.take()).toBe(3);
  });

  it('jumps past any earlier number when its file is damaged, and says so', async () => {
    const first = await counter('bad.json');
    for (let i = 0; i < 5; i++) await first.take();
    await writeFile(join(dir, 'bad.json'), '{"next": -');
    const c = new SequenceCounter(join(dir, 'bad.json'), () => 1_700_000_000_000);
    expect(await c.start()).toEqual({ recovered: true });
    expect(await c.take()).toBe(1_700_000_000_000);
    expect(await (await counter('bad.json')).take()).toBe(1_700_000_000_001);
  });
});
