import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../onnx/index.ts';
import {
  accuracyOf,
  compareVariants,
  compareWithChampion,
  confusionMatrix,
  type EvaluationSet,
  evaluateModel,
  perClassMetrics,
} from './index.ts';

const FAST = { samples: 10, runsPerSample: 1, warmup: 2 };

/** Predicts the brightest of 4 pixels: logits = pixels · P, P a permutation (identity by default). */
function brightestPixelModel(permutation = [0, 1, 2, 3], layout: 'NCHW' | 'NHWC' = 'NCHW'): Uint8Array {
  const b = new GraphBuilder();
  const x = b.input('input', layout === 'NCHW' ? ['N', 1, 2, 2] : ['N', 2, 2, 1]);
  const p = new Float32Array(16);
  permutation.forEach((to, from) => {
    p[from * 4 + to] = 1;
  });
  const flat = b.node('Flatten', [x], { axis: 1 });
  b.node('MatMul', [flat, b.initializer('p', [4, 4], p)], {}, 'logits');
  b.output('logits', ['N', 4]);
  return b.toBytes();
}

/** 40 images: image i lights pixel i % 4; the first 4 are labelled one class off. */
function testSet(): EvaluationSet {
  const count = 40;
  const images = new Float32Array(count * 4);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    images[i * 4 + (i % 4)] = 1;
    labels[i] = i < 4 ? (i + 1) % 4 : i % 4;
  }
  return {
    count,
    images,
    labels,
    shape: { channels: 1, height: 2, width: 2 },
    classes: ['a', 'b', 'c', 'd'],
  };
}

describe('metrics', () => {
  it('confusion, accuracy, precision and recall', () => {
    const labels = Uint8Array.of(0, 0, 1, 1, 1);
    const predictions = Uint8Array.of(0, 1, 1, 1, 0);
    const m = confusionMatrix(labels, predictions, 3);
    expect(m).toEqual([
      [1, 1, 0],
      [1, 2, 0],
      [0, 0, 0],
    ]);
    expect(accuracyOf(m)).toBeCloseTo(0.6);
    expect(perClassMetrics(m, ['x', 'y', 'z'])).toEqual([
      { class: 'x', precision: 0.5, recall: 0.5, support: 2 },
      { class: 'y', precision: 2 / 3, recall: 2 / 3, support: 3 },
      { class: 'z', precision: 0, recall: 0, support: 0 },
    ]);
  });
});

describe('evaluateModel', () => {
  it('measures accuracy, per-class metrics, confusion, latency and bytes of a real model', async () => {
    const model = brightestPixelModel();
    const result = await evaluateModel(model, testSet(), { latency: FAST });
    expect(result.accuracy).toBeCloseTo(36 / 40);
    expect(result.confusion[1]![0]).toBe(1); // image 0 lights pixel 0 but is labelled 1
    expect(result.perClass[0]).toEqual({ class: 'a', precision: 9 / 10, recall: 9 / 10, support: 10 });
    expect(result.bytes).toBe(model.length);
    expect(result.latency!.b1.p50).toBeGreaterThan(0);
    expect(result.latency!.b1.p95).toBeGreaterThanOrEqual(result.latency!.b1.p50);
    expect(result.latency!.b32!.p50).toBeGreaterThan(0);
  });

  it('feeds NHWC models in their layout', async () => {
    const result = await evaluateModel(brightestPixelModel(undefined, 'NHWC'), testSet(), { latency: false });
    expect(result.accuracy).toBeCloseTo(0.9);
    expect(result.latency).toBeNull();
  });

  it('rejects an evaluation set of another shape, and an empty one', async () => {
    const set = { ...testSet(), shape: { channels: 1, height: 4, width: 1 } };
    await expect(evaluateModel(brightestPixelModel(), set, { latency: false })).rejects.toMatchObject({
      code: 'EVAL_SHAPE_MISMATCH',
      message: expect.stringMatching(/1×4×1 .* expects 1×2×2/),
    });
    const empty = { ...testSet(), count: 0, images: new Float32Array(), labels: new Uint8Array() };
    await expect(evaluateModel(brightestPixelModel(), empty, { latency: false })).rejects.toMatchObject({
      code: 'EVAL_EMPTY_SET',
    });
  });
});

describe('comparisons', () => {
  it('agreement and top-1 delta between two variants', async () => {
    // swapping classes 0 and 1 changes the prediction on every image lighting pixel 0 or 1
    const swapped = brightestPixelModel([1, 0, 2, 3]);
    const c = await compareVariants({ bytes: brightestPixelModel() }, { bytes: swapped }, testSet());
    expect(c.agreement).toBeCloseTo(0.5);
    expect(c.referenceTop1).toBeCloseTo(0.9);
    // swapped: 18 of the 20 pixel-2/3 images, plus image 0 (pixel 0, labelled 1) → 19 / 40
    expect(c.candidateTop1).toBeCloseTo(19 / 40);
    expect(c.top1DeltaPoints).toBeCloseTo((c.candidateTop1 - c.referenceTop1) * 100);
  });

  it('champion comparison carries size and latency ratios', async () => {
    const champion = { bytes: brightestPixelModel() };
    const r = await compareWithChampion(champion, champion, testSet(), FAST);
    expect(r.agreement).toBe(1);
    expect(r.sizeRatio).toBe(1);
    expect(r.latencyRatioB1).toBeGreaterThan(0);
    expect(r.champion.latencyB1Ms).toBeGreaterThan(0);
  });
});
