import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { BuiltinTrainer } from './builtin-trainer.ts';
import { TrainingError } from './errors.ts';
import { mnistSubset } from './fixtures/mnist-digits.ts';
import type { TrainingProgress } from './trainer.ts';

const SMALL = { epochs: 2, convChannels: [8, 16], hidden: 16, batchSize: 16, learningRate: 0.003 };

describe('BuiltinTrainer', () => {
  it('trains in a worker thread, streams progress and returns a runnable ONNX model', async () => {
    const dataset = mnistSubset({ train: 400, validation: 100, test: 100 });
    const progress: TrainingProgress[] = [];
    const result = await new BuiltinTrainer().train({
      dataset,
      hyperparameters: SMALL,
      onProgress: (p) => progress.push(p),
    });

    expect(result.hyperparameters).toMatchObject({ ...SMALL, seed: 1, kernel: 3 });
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.metrics.validationAccuracy).toBeGreaterThan(0.5);
    expect(result.metrics.testAccuracy).toBeGreaterThan(0.5);
    const epochEnds = progress.filter((p) => p.phase === 'training' && p.validationAccuracy !== undefined);
    expect(epochEnds.map((p) => p.epoch)).toEqual([1, 2]);
    expect(progress.at(-1)?.phase).toBe('exporting');

    const session = await ort.InferenceSession.create(result.model);
    const out = await session.run({
      input: new ort.Tensor('float32', dataset.test.images.slice(0, 784 * 4), [4, 1, 28, 28]),
    });
    expect(out['probabilities']!.dims).toEqual([4, 10]);
    expect(out['embedding']!.dims).toEqual([4, 16]);
    await session.release();
  });

  it('rejects invalid hyperparameters before starting a worker', async () => {
    const dataset = mnistSubset({ train: 10, validation: 0, test: 0 });
    const attempt = new BuiltinTrainer().train({ dataset, hyperparameters: { epochs: 0 } });
    await expect(attempt).rejects.toMatchObject({ code: 'TRAINING_INVALID_HYPERPARAMETERS' });
    const unknown = new BuiltinTrainer().train({ dataset, hyperparameters: { epoch: 3 } });
    await expect(unknown).rejects.toBeInstanceOf(TrainingError);
  });

  it('stops when aborted and rejects with TRAINING_ABORTED', async () => {
    const dataset = mnistSubset({ train: 2000, validation: 0, test: 0 });
    const controller = new AbortController();
    let batchesSeen = 0;
    const attempt = new BuiltinTrainer().train({
      dataset,
      hyperparameters: { ...SMALL, epochs: 50 },
      signal: controller.signal,
      onProgress: (p) => {
        batchesSeen = p.batch;
        controller.abort(new Error('operator cancelled'));
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'TRAINING_ABORTED' });
    expect(batchesSeen).toBeGreaterThan(0);
  });
});
