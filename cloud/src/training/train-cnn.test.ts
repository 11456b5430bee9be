import { describe, expect, it } from 'vitest';
import { TrainingError } from './errors.ts';
import { mnistSubset } from './fixtures/mnist-digits.ts';
import { parseBuiltinHyperparameters } from './hyperparameters.ts';
import { trainCnn } from './train-cnn.ts';
import type { TrainingProgress } from './trainer.ts';

const TINY = { convChannels: [8, 16], hidden: 32, batchSize: 16, learningRate: 0.005 };

describe('trainCnn', () => {
  it('a tiny CNN trained on 600 digits beats 80% on 300 unseen ones', () => {
    const dataset = mnistSubset({ train: 600, validation: 200, test: 300 });
    const progress: TrainingProgress[] = [];
    const { metrics } = trainCnn(dataset, parseBuiltinHyperparameters({ ...TINY, epochs: 4 }), {
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 0,
    });
    expect(metrics.testAccuracy).toBeGreaterThan(0.8);
    expect(metrics.validationAccuracy).toBeGreaterThan(0.8);
    // Loss falls epoch over epoch on this data.
    const losses = metrics.epochs.map((e) => e.loss);
    expect(losses[3]).toBeLessThan(losses[0]!);
    const perBatch = progress.filter((p) => p.phase === 'training' && p.validationAccuracy === undefined);
    expect(perBatch.length).toBe(4 * Math.ceil(600 / 16));
    expect(perBatch.at(-1)).toMatchObject({ epoch: 4, epochs: 4, batch: 38, batches: 38 });
  });

  it('is reproducible: the same seed gives identical weights, another seed does not', () => {
    const dataset = mnistSubset({ train: 96, validation: 0, test: 0 });
    const weightsFor = (seed: number) =>
      trainCnn(
        dataset,
        parseBuiltinHyperparameters({ ...TINY, convChannels: [2, 3], hidden: 4, epochs: 2, seed }),
      )
        .cnn.weights()
        .tensors.map((t) => Array.from(t.values));
    const first = weightsFor(5);
    expect(weightsFor(5)).toEqual(first);
    expect(weightsFor(6)).not.toEqual(first);
  });

  it('refuses an empty train split and honours shouldStop', () => {
    const empty = mnistSubset({ train: 0, validation: 0, test: 10 });
    expect(() => trainCnn(empty, parseBuiltinHyperparameters({}))).toThrow(TrainingError);
    const dataset = mnistSubset({ train: 64, validation: 0, test: 0 });
    let calls = 0;
    const run = () => trainCnn(dataset, parseBuiltinHyperparameters(TINY), { shouldStop: () => ++calls > 2 });
    expect(run).toThrow(expect.objectContaining({ code: 'TRAINING_ABORTED' }));
    expect(calls).toBe(3);
  });
});
