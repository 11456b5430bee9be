// Small real ONNX models and registration inputs for the registry's tests.
import type { ModelVariant } from '@edgeloop/shared';
import { GraphBuilder } from '../onnx/index.ts';
import type { ManifestFields, ModelLineage, RegisterVersionInput } from './registration.ts';

export const CLASSES = ['cat', 'dog', 'fox'];

/** A 2×2 greyscale → 3-class linear model; `seed` changes the weights, so the bytes differ. */
export function tinyModelBytes(seed: number): Uint8Array {
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', ['N', 1, 2, 2]);
  const flat = b.node('Flatten', [x], { axis: 1 });
  const w = b.initializer(
    'w',
    [4, 3],
    Float32Array.from({ length: 12 }, (_, i) => Math.sin(seed * 31 + i)),
  );
  const logits = b.node('MatMul', [flat, w], {}, 'logits');
  b.output(logits, ['N', 3]);
  b.output(b.node('Softmax', [logits], { axis: 1 }, 'probabilities'), ['N', 3]);
  return b.toBytes();
}

export const tinyManifestFields: ManifestFields = {
  input: { name: 'input', shape: ['batch', 1, 2, 2], dtype: 'float32' },
  outputs: [
    { name: 'logits', shape: ['batch', 3], dtype: 'float32', role: 'logits' },
    { name: 'probabilities', shape: ['batch', 3], dtype: 'float32', role: 'probabilities' },
  ],
  // 1/255 and a three-decimal mean: numbers that must survive the jsonb round trip bit for bit.
  preprocessing: {
    layout: 'NCHW',
    channels: 1,
    height: 2,
    width: 2,
    scale: 1 / 255,
    mean: [0.1307],
    std: [0.3081],
  },
  sessionOptions: { 'session.disable_quant_qdq': '1' },
};

export const tinyLineage: ModelLineage = {
  datasetHash: 'd'.repeat(64),
  trainingParameters: { epochs: 2, batchSize: 64, learningRate: 0.001, seed: 7 },
  codeVersion: 'test-0000000',
  trainer: 'builtin',
};

export function registration(
  model: string,
  seed: number,
  extra: Partial<RegisterVersionInput> = {},
  variants: ModelVariant[] = ['fp32', 'int8'],
): RegisterVersionInput {
  return {
    model,
    lineage: tinyLineage,
    metrics: { accuracy: 0.9 + seed / 1000 },
    referenceProfile: { inputs: { brightness: [0.1, 0.5, 0.9] } },
    variants: variants.map((variant, i) => ({
      variant,
      bytes: tinyModelBytes(seed * 10 + i),
      manifestFields: tinyManifestFields,
      metrics: { accuracy: 0.9 },
      ...(variant === 'int8' ? { quantizationReport: { method: 'qdq', agreement: 0.998 } } : {}),
    })),
    ...extra,
  };
}
