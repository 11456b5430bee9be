import { base64Encode, EdgeloopError, type ModelManifest } from '@edgeloop/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGoldenCheck } from './golden.ts';
import {
  concreteInputShape,
  ModelSession,
  type RuntimeProfile,
  sessionOptionsFor,
  softmax,
} from './inference.ts';
import { testManifest } from './testing/fixtures.ts';
import { linearClassifierModel } from './testing/onnx-models.ts';

// 4 features (1×2×2 image) → 3 classes, weights picked so each class wins on a different input.
const weights = new Float32Array([1, -1, 0.5, 2, 0, 1, -1, 1, 0.25, 0.5, 0.5, -2]);
const bias = new Float32Array([0.1, -0.2, 0.3]);
const cpu: RuntimeProfile = { executionProviders: ['cpu'], threads: { intraOp: 1, interOp: 1 } };

function referenceLogits(x: ArrayLike<number>): number[] {
  return [0, 1, 2].map((c) => {
    let sum = bias[c] ?? 0;
    for (let f = 0; f < 4; f++) sum += (x[f] ?? 0) * (weights[f * 3 + c] ?? 0);
    return sum;
  });
}

const probsModel = linearClassifierModel({
  inputShape: ['batch', 1, 2, 2],
  weights,
  bias,
  outputs: ['probabilities', 'embedding'],
});
const probsManifest = testManifest(probsModel, {
  outputs: [
    { name: 'probabilities', shape: ['batch', 3], dtype: 'float32', role: 'probabilities' },
    { name: 'embedding', shape: ['batch', 4], dtype: 'float32', role: 'embedding' },
  ],
});
const logitsModel = linearClassifierModel({
  inputShape: ['batch', 1, 2, 2],
  weights,
  bias,
  outputs: ['logits'],
});
const logitsManifest = testManifest(logitsModel, {
  outputs: [{ name: 'logits', shape: ['batch', 3], dtype: 'float32', role: 'logits' }],
});

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeloopError);
    return (err as EdgeloopError).code;
  }
}

describe('ModelSession', () => {
  let session: ModelSession;
  beforeAll(async () => {
    session = await ModelSession.create(probsModel, probsManifest, cpu);
  });
  afterAll(async () => {
    await session.dispose();
  });

  it('classifies like the reference computation, with a sorted topK', async () => {
    const x = new Float32Array([0.9, 0.1, 0.4, 0.7]);
    const expected = softmax(Float32Array.from(referenceLogits(x)), 3);
    const result = await session.classify(x, 2);
    const best = expected.indexOf(Math.max(...expected));
    expect(result.classIndex).toBe(best);
    expect(result.label).toBe(probsManifest.classes[best]);
    expect(result.confidence).toBeCloseTo(expected[best] ?? 0, 5);
    expect(result.topK).toHaveLength(2);
    expect(result.topK[0]?.confidence).toBeGreaterThanOrEqual(result.topK[1]?.confidence ?? 1);
    expect(result.latencyMs).toBeGreaterThan(0);
  });

  it('returns probabilities and the embedding by role, for a batch', async () => {
    const x = new Float32Array([1, 0, 0, 0, 0, 0, 0, 1]);
    const out = await session.run(x, 2);
    expect(out.probabilities).toHaveLength(6);
    expect(Array.from(out.embedding ?? [])).toEqual(Array.from(x));
    const second = softmax(Float32Array.from(referenceLogits([0, 0, 0, 1])), 3);
    for (let c = 0; c < 3; c++) expect(out.probabilities[3 + c]).toBeCloseTo(second[c] ?? 0, 5);
  });

  it('applies softmax when the model only has logits', async () => {
    const logitsSession = await ModelSession.create(logitsModel, logitsManifest, cpu);
    const x = new Float32Array([0.2, 0.3, 0.9, 0.1]);
    const out = await logitsSession.run(x);
    const ref = referenceLogits(x);
    for (let c = 0; c < 3; c++) expect(out.logits?.[c]).toBeCloseTo(ref[c] ?? 0, 5);
    expect(out.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(out.probabilities[0]).toBeCloseTo(softmax(Float32Array.from(ref), 3)[0] ?? 0, 5);
    await logitsSession.dispose();
  });

  it('warms up', async () => {
    expect(await session.warmUp(2)).toBeGreaterThan(0);
  });
});

describe('execution providers', () => {
  it('falls back along the profile to cpu and reports what it used', async () => {
    const s = await ModelSession.create(probsModel, probsManifest, {
      executionProviders: ['cuda', 'xnnpack'],
      threads: { intraOp: 1, interOp: 1 },
    });
    expect(s.executionProvider).toBe('cpu');
    expect(s.fallbacks.map((f) => f.provider)).toEqual(['cuda', 'xnnpack']);
    expect(s.fallbacks[0]?.reason).not.toBe('');
    await s.dispose();
  });

  it('passes threads and manifest session options through', () => {
    const options = sessionOptionsFor(
      'cpu',
      { sessionOptions: { 'session.disable_quant_qdq': '1', 'optimization.x': 'y' } },
      { executionProviders: ['cpu'], threads: { intraOp: 3, interOp: 2 } },
    );
    expect(options.intraOpNumThreads).toBe(3);
    expect(options.interOpNumThreads).toBe(2);
    expect(options.executionProviders).toEqual(['cpu']);
    expect(options.extra).toEqual({ session: { disable_quant_qdq: '1', 'optimization.x': 'y' } });
  });

  it('loads with session config entries from the manifest', async () => {
    const manifest: ModelManifest = {
      ...probsManifest,
      sessionOptions: { 'session.disable_quant_qdq': '1' },
    };
    const s = await ModelSession.create(probsModel, manifest, cpu);
    expect((await s.classify(new Float32Array(4))).topK).toHaveLength(3);
    await s.dispose();
  });
});

describe('load failures', () => {
  it('refuses bytes that are not a model with MODEL_LOAD_FAILED', async () => {
    expect(await errorCode(ModelSession.create(new Uint8Array([1, 2, 3, 4, 5]), probsManifest, cpu))).toBe(
      'MODEL_LOAD_FAILED',
    );
  });

  it('refuses a manifest naming outputs the graph lacks with MODEL_INVALID', async () => {
    expect(await errorCode(ModelSession.create(logitsModel, probsManifest, cpu))).toBe('MODEL_INVALID');
  });

  it('refuses an input that does not fit the declared shape', async () => {
    const s = await ModelSession.create(probsModel, probsManifest, cpu);
    expect(await errorCode(s.run(new Float32Array(5)))).toBe('VALIDATION_FAILED');
    await s.dispose();
  });
});

describe('concreteInputShape', () => {
  it('fills the batch dim and infers one other symbolic dim', () => {
    expect(concreteInputShape(['batch', 1, 28, 28], 784 * 2, 2)).toEqual([2, 1, 28, 28]);
    expect(concreteInputShape([1, 'n'], 784, 1)).toEqual([1, 784]);
    expect(() => concreteInputShape(['batch', 784], 700, 1)).toThrow(/does not fit/);
  });
});

function float32Base64(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return base64Encode(bytes);
}

describe('runGoldenCheck', () => {
  let session: ModelSession;
  const inputs = [
    [0.1, 0.2, 0.3, 0.4],
    [1, 0, 1, 0],
  ];
  const expected = inputs.map((x) => softmax(Float32Array.from(referenceLogits(x)), 3));
  beforeAll(async () => {
    session = await ModelSession.create(probsModel, probsManifest, cpu);
  });
  afterAll(async () => {
    await session.dispose();
  });

  it('passes when outputs match within tolerance and reports the worst diff', async () => {
    const report = await runGoldenCheck(session, {
      output: 'probabilities',
      tolerance: 1e-4,
      cases: inputs.map((x, i) => ({ input: float32Base64(x), expected: float32Base64(expected[i] ?? []) })),
    });
    expect(report.cases).toBe(2);
    expect(report.maxAbsDiff).toBeLessThan(1e-4);
  });

  it('fails with GOLDEN_CHECK_FAILED naming the worst case and diff', async () => {
    const shifted = Float32Array.from(expected[1] ?? []);
    shifted[2] = (shifted[2] ?? 0) + 0.05;
    try {
      await runGoldenCheck(session, {
        output: 'probabilities',
        tolerance: 0.01,
        cases: [
          { input: float32Base64(inputs[0] ?? []), expected: float32Base64(expected[0] ?? []) },
          { input: float32Base64(inputs[1] ?? []), expected: float32Base64(shifted) },
        ],
      });
      expect.unreachable();
    } catch (err) {
      expect((err as EdgeloopError).code).toBe('GOLDEN_CHECK_FAILED');
      const details = (err as EdgeloopError).details as { maxAbsDiff: number; worstCase: number };
      expect(details.worstCase).toBe(1);
      expect(details.maxAbsDiff).toBeCloseTo(0.05, 4);
    }
  });

  it('fails when the golden output has the wrong length', async () => {
    expect(
      await errorCode(
        runGoldenCheck(session, {
          output: 'probabilities',
          tolerance: 0.01,
          cases: [{ input: float32Base64(inputs[0] ?? []), expected: float32Base64([0.5, 0.5]) }],
        }),
      ),
    ).toBe('GOLDEN_CHECK_FAILED');
  });
});
