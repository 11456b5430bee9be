import type { Dataset } from '../datasets/dataset.ts';
import { mulberry32, shuffleInPlace } from '../datasets/random.ts';
import { Adam } from './adam.ts';
import { TrainingError } from './errors.ts';
import type { BuiltinHyperparameters } from './hyperparameters.ts';
import { Cnn } from './network.ts';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.ts';
import type { TrainingMetrics, TrainingProgress } from './trainer.ts';

export interface EpochReport {
  epoch: number;
  seconds: number;
  loss: number;
  trainAccuracy: number;
  validationAccuracy?: number;
}

export interface CnnTrainingOutcome {
  cnn: Cnn;
  metrics: TrainingMetrics & { epochs: EpochReport[] };
}

export interface CnnTrainingOptions {
  onProgress?: (progress: TrainingProgress) => void;
  /** Minimum time between two in-epoch progress reports. */
  progressIntervalMs?: number;
  /** Checked between batches; returning true stops with TRAINING_ABORTED. */
  shouldStop?: () => boolean;
}

/**
 * Trains the built-in CNN on `dataset.train`, synchronously on the calling thread (the built-in
 * trainer calls it inside a worker). Deterministic: the seed fixes initialisation and every
 * epoch's shuffle, so the same seed and data give bit-identical weights.
 */
export function trainCnn(
  dataset: Dataset,
  hp: BuiltinHyperparameters,
  options: CnnTrainingOptions = {},
): CnnTrainingOutcome {
  const { train, validation, test } = dataset;
  if (train.count === 0) throw new TrainingError('TRAINING_INVALID_DATASET', 'the train split is empty');
  const started = performance.now();
  const elapsedMs = () => Math.round(performance.now() - started);
  const report = options.onProgress ?? (() => {});
  const progressIntervalMs = options.progressIntervalMs ?? 250;

  const cnn = new Cnn({
    input: dataset.shape,
    convChannels: hp.convChannels,
    kernel: hp.kernel,
    hidden: hp.hidden,
    classes: dataset.classes.length,
  });
  const rng = mulberry32(hp.seed);
  cnn.initialize(rng);
  const optimizer = new Adam(cnn.parameters, hp.learningRate);
  const lossFn = new SoftmaxCrossEntropy(dataset.classes.length);
  const order = new Uint32Array(train.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const labels = new Uint8Array(hp.batchSize);
  const batches = Math.ceil(train.count / hp.batchSize);
  const epochs: EpochReport[] = [];

  for (let epoch = 1; epoch <= hp.epochs; epoch++) {
    const epochStart = performance.now();
    optimizer.learningRate = hp.learningRate * hp.learningRateDecay ** (epoch - 1);
    shuffleInPlace(order, rng);
    let lossSum = 0;
    let correct = 0;
    let lastReport = 0;
    for (let batchIndex = 0; batchIndex < batches; batchIndex++) {
      if (options.shouldStop?.()) throw new TrainingError('TRAINING_ABORTED', 'training was aborted');
      const start = batchIndex * hp.batchSize;
      const batch = Math.min(hp.batchSize, train.count - start);
      for (let b = 0; b < batch; b++) labels[b] = train.labels[order[start + b]!]!;
      const logits = cnn.forward(cnn.gatherBatch(train.images, order, start, batch), batch);
      const result = lossFn.evaluate(logits, labels, batch);
      cnn.backward(result.gradient, batch);
      optimizer.update();
      lossSum += result.loss * batch;
      correct += result.correct;
      const seen = start + batch;
      if (performance.now() - lastReport >= progressIntervalMs) {
        lastReport = performance.now();
        report({
          phase: 'training',
          epoch,
          epochs: hp.epochs,
          batch: batchIndex + 1,
          batches,
          loss: lossSum / seen,
          trainAccuracy: correct / seen,
          elapsedMs: elapsedMs(),
        });
      }
    }
    const seconds = (performance.now() - epochStart) / 1000;
    const epochReport: EpochReport = {
      epoch,
      seconds,
      loss: lossSum / train.count,
      trainAccuracy: correct / train.count,
    };
    if (validation.count > 0) {
      report({
        ...progressBase(epoch, hp.epochs, batches, epochReport.loss, elapsedMs()),
        phase: 'evaluating',
      });
      epochReport.validationAccuracy = cnn.accuracy(validation.images, validation.labels, validation.count);
    }
    epochs.push(epochReport);
    report({
      ...progressBase(epoch, hp.epochs, batches, epochReport.loss, elapsedMs()),
      trainAccuracy: epochReport.trainAccuracy,
      ...(epochReport.validationAccuracy === undefined
        ? {}
        : { validationAccuracy: epochReport.validationAccuracy }),
    });
  }

  const last = epochs[epochs.length - 1]!;
  const metrics: CnnTrainingOutcome['metrics'] = {
    trainLoss: last.loss,
    trainAccuracy: last.trainAccuracy,
    epochs,
  };
  if (last.validationAccuracy !== undefined) metrics.validationAccuracy = last.validationAccuracy;
  if (test.count > 0) {
    report({ ...progressBase(hp.epochs, hp.epochs, batches, last.loss, elapsedMs()), phase: 'evaluating' });
    metrics.testAccuracy = cnn.accuracy(test.images, test.labels, test.count);
  }
  return { cnn, metrics };
}

function progressBase(epoch: number, epochs: number, batches: number, loss: number, elapsedMs: number) {
  return { phase: 'training' as const, epoch, epochs, batch: batches, batches, loss, elapsedMs };
}
