import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../datasets/random.ts';
import { exportCnnToOnnx } from './export-onnx.ts';
import { mnistSubset } from './fixtures/mnist-digits.ts';
import { parseBuiltinHyperparameters } from './hyperparameters.ts';
import { Cnn } from './network.ts';
import { trainCnn } from './train-cnn.ts';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

async function runOnnx(model: Uint8Array, images: Float32Array, shape: number[]) {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    expect(session.inputNames).toEqual(['input']);
    expect([...session.outputNames].sort()).toEqual(['embedding', 'logits', 'probabilities']);
    const out = await session.run({ input: new ort.Tensor('float32', images, shape) });
    return {
      logits: out['logits']!,
      probabilities: out['probabilities']!,
      embedding: out['embedding']!,
    };
  } finally {
    await session.release();
  }
}

describe('exportCnnToOnnx', () => {
  it('onnxruntime reproduces a trained network on test digits to 1e-4', async () => {
    const dataset = mnistSubset({ train: 300, validation: 0, test: 100 });
    const hp = parseBuiltinHyperparameters({ epochs: 1, convChannels: [4, 8], hidden: 16, seed: 3 });
    const { cnn } = trainCnn(dataset, hp);
    const expected = cnn.predict(dataset.test.images, dataset.test.count);
    const model = exportCnnToOnnx(cnn.weights());
    const actual = await runOnnx(model, dataset.test.images, [dataset.test.count, 1, 28, 28]);

    expect(actual.logits.dims).toEqual([100, 10]);
    expect(actual.embedding.dims).toEqual([100, 16]);
    expect(maxAbsDiff(actual.logits.data as Float32Array, expected.logits)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(actual.probabilities.data as Float32Array, expected.probabilities)).toBeLessThanOrEqual(
      1e-4,
    );
    expect(maxAbsDiff(actual.embedding.data as Float32Array, expected.embedding)).toBeLessThanOrEqual(1e-4);
  });

  it('handles several channels, odd sizes, a 5×5 kernel and three conv blocks, with any batch size', async () => {
    const architecture = {
      input: { channels: 3, height: 13, width: 11 },
      convChannels: [5, 6, 4],
      kernel: 5,
      hidden: 7,
      classes: 4,
    };
    const cnn = new Cnn(architecture);
    cnn.initialize(mulberry32(21));
    const rng = mulberry32(22);
    for (const count of [1, 5]) {
      const images = Float32Array.from({ length: count * 3 * 13 * 11 }, () => rng());
      const expected = cnn.predict(images, count);
      const actual = await runOnnx(exportCnnToOnnx(cnn.weights()), images, [count, 3, 13, 11]);
      expect(maxAbsDiff(actual.logits.data as Float32Array, expected.logits)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(actual.embedding.data as Float32Array, expected.embedding)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('records metadata and declares a dynamic batch dimension', async () => {
    const cnn = new Cnn({
      input: { channels: 1, height: 8, width: 8 },
      convChannels: [2],
      kernel: 3,
      hidden: 3,
      classes: 2,
    });
    cnn.initialize(mulberry32(1));
    const model = exportCnnToOnnx(cnn.weights(), { metadata: { dataset: 'abc123' } });
    const { onnx } = (await import('onnx-proto')).default;
    const decoded = onnx.ModelProto.decode(model);
    expect(Number(decoded.irVersion)).toBe(8);
    expect(Number(decoded.opsetImport[0]!.version)).toBe(13);
    expect(decoded.metadataProps.map((m) => [m.key, m.value])).toEqual([['dataset', 'abc123']]);
    expect(decoded.graph?.input?.[0]?.type?.tensorType?.shape?.dim?.[0]?.dimParam).toBe('batch');
  });
});
