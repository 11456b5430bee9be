/**
 * Entry of the built-in trainer's worker thread: trains, exports ONNX, posts the bytes back.
 * Messages to the parent are `WorkerMessage`s; the parent owns timing, cancellation and errors.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Dataset } from '../datasets/dataset.ts';
import { TrainingError, type TrainingErrorCode } from './errors.ts';
import { exportCnnToOnnx } from './export-onnx.ts';
import type { BuiltinHyperparameters } from './hyperparameters.ts';
import { trainCnn } from './train-cnn.ts';
import type { TrainingMetrics, TrainingProgress } from './trainer.ts';

export interface WorkerInput {
  /** URL of this module, imported by train-worker-bootstrap.mjs once tsx is registered. */
  entry: string;
  dataset: Dataset;
  hyperparameters: BuiltinHyperparameters;
}

export type WorkerMessage =
  | { type: 'progress'; progress: TrainingProgress }
  | { type: 'result'; model: Uint8Array; metrics: TrainingMetrics }
  | { type: 'error'; code: TrainingErrorCode; message: string };

const port = parentPort;
if (port) {
  const { dataset, hyperparameters } = workerData as WorkerInput;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  try {
    const { cnn, metrics } = trainCnn(dataset, hyperparameters, {
      onProgress: (progress) => post({ type: 'progress', progress }),
    });
    const last = metrics.epochs[metrics.epochs.length - 1];
    post({
      type: 'progress',
      progress: {
        phase: 'exporting',
        epoch: hyperparameters.epochs,
        epochs: hyperparameters.epochs,
        batch: 0,
        batches: 0,
        loss: last?.loss ?? null,
        elapsedMs: 0,
      },
    });
    const model = exportCnnToOnnx(cnn.weights(), {
      metadata: {
        trainer: 'builtin',
        dataset: dataset.name,
        datasetVersion: dataset.version,
        seed: String(hyperparameters.seed),
      },
    });
    post({ type: 'result', model, metrics }, [model.buffer as ArrayBuffer]);
  } catch (error) {
    const code = error instanceof TrainingError ? error.code : 'TRAINING_WORKER_FAILED';
    post({
      type: 'error',
      code,
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
}
