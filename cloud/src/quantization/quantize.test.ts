import { describe, expect, it } from 'vitest';
import {
  createSession,
  decodeModel,
  encodeModel,
  GraphBuilder,
  imageTensor,
  OnnxFormatError,
  type SessionConfigEntries,
  tensorToFloat32,
} from '../onnx/index.ts';
import { calibrateRanges } from './calibrate.ts';
import { QuantizationError, quantizeModel } from './index.ts';
import { analyzeGraph, type NodeMode } from './ops.ts';
import { withActivationModes } from './plan.ts';
import { prepareModel } from './prepare.ts';
import { writeQdqModel } from './qdq.ts';
import { convBnCnn, matMulHeadCnn, nhwcCnn, randomImages } from './test-models.ts';

const SHAPE = { channels: 1, height: 8, width: 8 };
const FAST = { latency: { samples: 15, runsPerSample: 2, warmup: 3 } };

async function run(bytes: Uint8Array, images: Float32Array, dims: number[], entries?: SessionConfigEntries) {
  const session = await createSession(bytes, entries ? { configEntries: entries } : {});
  const out = await session.run({ [session.inputNames[0]!]: imageTensor(images, dims) });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

function maxAbsDiff(a: Float32Array, b: Float32Array) {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

function spread(a: Float32Array) {
  return Math.max(...a) - Math.min(...a);
}

/** Writes the all-int8 plan directly, so tests see full QDQ even where the search would pick otherwise. */
async function allInt8(
  bytes: Uint8Array,
  nchwImages: Float32Array,
  count: number,
  nhwc = false,
  perChannel = true,
) {
  const model = decodeModel(bytes);
  prepareModel(model);
  const analysis = analyzeGraph(model.graph!);
  const tensors = new Set<string>();
  for (const n of [...analysis.weighted.map((w) => w.node), ...analysis.activation]) {
    tensors.add(n.input![0]!);
    tensors.add(n.output![0]!);
  }
  const dims = nhwc ? [8, 8, 1] : [1, 8, 8];
  const ranges = await calibrateRanges(
    model,
    [...tensors],
    { inputName: 'input', images: nchwImages, count, imageDims: dims, batchSize: 16 },
    { method: 'minmax', percentile: 100 },
  );
  const modes = new Map<string, NodeMode>(analysis.weighted.map((w) => [w.node.name!, 'int8']));
  const plan = withActivationModes({ prepared: model, analysis }, modes);
  return { model: writeQdqModel(model, plan, ranges, { perChannel }), plan };
}

describe('prepareModel', () => {
  it('folds BatchNormalization into the Conv and keeps outputs within 1e-4', async () => {
    const bytes = convBnCnn();
    const model = decodeModel(bytes);
    const summary = prepareModel(model);
    expect(summary.foldedBatchNorms).toHaveLength(1);
    expect(model.graph!.node!.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const images = randomImages(8, 1, 8);
    const before = await run(bytes, images, [8, 1, 8, 8]);
    const after = await run(encodeModel(model), images, [8, 1, 8, 8]);
    expect(maxAbsDiff(before.logits!, after.logits!)).toBeLessThan(1e-4);
    expect(maxAbsDiff(before.embedding!, after.embedding!)).toBeLessThan(1e-4);
  });
});

describe('writeQdqModel (all int8)', () => {
  for (const [label, make, nhwc, perChannel] of [
    ['conv+BN+relu+pool+gemm', () => convBnCnn(), false, true],
    ['NHWC with Transpose', () => nhwcCnn(), true, true],
    ['MatMul head', () => matMulHeadCnn(), false, true],
    ['opset 11 (per-tensor)', () => convBnCnn({ opset: 11 }), false, false],
  ] as const) {
    it(`${label}: runs in onnxruntime and stays close to fp32`, async () => {
      const bytes = make();
      const count = 32;
      const nchw = randomImages(count, 1, 8);
      const { model } = await allInt8(bytes, nchw, count, nhwc, perChannel);
      const ops = model.graph!.node!.map((n) => n.opType);
      expect(ops).toContain('QuantizeLinear');
      expect(ops).toContain('DequantizeLinear');
      const int8Weights = model.graph!.initializer!.filter(
        (t) => t.dataType === 3 && t.name!.endsWith('weight_quantized'),
      );
      expect(int8Weights.length).toBeGreaterThan(0);
      const dims = nhwc ? [count, 8, 8, 1] : [count, 1, 8, 8];
      const fp32 = await run(bytes, nchw, dims);
      const int8 = await run(encodeModel(model), nchw, dims);
      // int8 error stays a few percent of the logit spread; a broken scale or axis is far off
      expect(maxAbsDiff(fp32.logits!, int8.logits!)).toBeLessThan(0.05 * spread(fp32.logits!));
    });
  }

  it('int32 bias uses exactly input scale × weight scale (the fused kernel relies on it)', async () => {
    const nchw = randomImages(16, 1, 8);
    const { model } = await allInt8(convBnCnn(), nchw, 16);
    const init = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
    const gemm = model.graph!.node!.find((n) => n.opType === 'Gemm')!;
    const biasScale = tensorToFloat32(init.get(`${gemm.name}_bias_scale`)!);
    const weightScale = tensorToFloat32(init.get(`${gemm.name}_weight_scale`)!);
    const inputDq = model.graph!.node!.find(
      (n) => n.opType === 'DequantizeLinear' && n.output![0] === gemm.input![0],
    )!;
    const inputScale = tensorToFloat32(init.get(inputDq.input![1]!)!)[0]!;
    for (const [c, s] of biasScale.entries()) expect(s).toBeCloseTo(inputScale * weightScale[c]!, 10);
  });
});

describe('quantizeModel', () => {
  it('quantizes a CNN end to end, reports the plan and the session options to open it with', async () => {
    const count = 64;
    const images = randomImages(count, 1, 8);
    const steps: string[] = [];
    const { model, report } = await quantizeModel(
      convBnCnn(),
      { images, count, shape: SHAPE },
      { ...FAST, onProgress: (p) => steps.push(p.stage) },
    );
    expect(steps).toContain('calibrate');
    expect(steps.at(-1)).toBe('done');
    expect(report.preparation.foldedBatchNorms).toHaveLength(1);
    expect(report.weights).toBe('int8 symmetric per-channel');
    expect(report.candidates.map((c) => c.label)).toEqual(['fp32', 'weight-only', 'int8-mixed', 'int8']);
    expect(report.candidates.filter((c) => c.chosen)).toHaveLength(1);
    const chosen = report.candidates.find((c) => c.chosen)!;
    expect(report.sessionOptions).toEqual(chosen.sessionOptions);
    expect(report.sizes.quantizedBytes).toBe(model.length);
    // the chosen variant honours the latency rule it was chosen by
    expect(chosen.latencyB1Ms).toBeLessThanOrEqual(report.candidates[0]!.latencyB1Ms * 1.05);
    // weighted nodes carry their measurements
    expect(
      report.nodes
        .filter((n) => n.measuredMs)
        .map((n) => n.op)
        .sort(),
    ).toEqual(['Conv', 'Conv', 'Gemm']);
    const fp32 = await run(convBnCnn(), images, [count, 1, 8, 8]);
    const quantized = await run(model, images, [count, 1, 8, 8], report.sessionOptions);
    expect(maxAbsDiff(fp32.logits!, quantized.logits!)).toBeLessThan(0.05 * spread(fp32.logits!));
  });

  it('keeps an unsupported op (Sin) in fp32 and says why', async () => {
    const images = randomImages(16, 1, 8);
    const { report } = await quantizeModel(
      convBnCnn({ unsupportedOp: 'Sin' }),
      { images, count: 16, shape: SHAPE },
      FAST,
    );
    const sin = report.keptFp32.find((n) => n.op === 'Sin');
    expect(sin?.reason).toMatch(/Sin is not in the int8 op set/);
  });

  it('rejects calibration data of the wrong shape or size, naming both shapes', async () => {
    const bytes = convBnCnn();
    await expect(
      quantizeModel(bytes, {
        images: new Float32Array(4 * 3 * 8 * 8),
        count: 4,
        shape: { channels: 3, height: 8, width: 8 },
      }),
    ).rejects.toThrow(/3×8×8 .* expects 1×8×8/);
    await expect(
      quantizeModel(bytes, { images: new Float32Array(100), count: 4, shape: SHAPE }),
    ).rejects.toMatchObject({
      code: 'QUANT_CALIBRATION_SHAPE',
      message: expect.stringMatching(/holds 100 floats/),
    });
    await expect(
      quantizeModel(bytes, { images: new Float32Array(0), count: 0, shape: SHAPE }),
    ).rejects.toBeInstanceOf(QuantizationError);
  });

  it('rejects a model without an image input and a file that is not ONNX', async () => {
    const b = new GraphBuilder();
    b.output(b.node('Relu', [b.input('input', ['N', 100])], {}, 'y'));
    const calibration = { images: new Float32Array(64), count: 1, shape: SHAPE };
    await expect(quantizeModel(b.toBytes(), calibration)).rejects.toMatchObject({
      code: 'ONNX_UNSUPPORTED_INPUT',
    });
    await expect(quantizeModel(new TextEncoder().encode('not a model'), calibration)).rejects.toBeInstanceOf(
      OnnxFormatError,
    );
  });
});
