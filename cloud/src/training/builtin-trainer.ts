import { Worker } from 'node:worker_threads';
import { TrainingError } from './errors.ts';
import { parseBuiltinHyperparameters } from './hyperparameters.ts';
import type { WorkerInput, WorkerMessage } from './train-worker.ts';
import type { Trainer, TrainingJob, TrainingProgress, TrainingResult } from './trainer.ts';

const WORKER_BOOTSTRAP = new URL('./train-worker-bootstrap.mjs', import.meta.url);
const WORKER_ENTRY = new URL('./train-worker.ts', import.meta.url).href;

/**
 * The default trainer: the compact Float32Array CNN trainer, run in a worker thread so the control
 * plane's event loop (API, MQTT) stays responsive during a training of tens of seconds.
 *
 * @example
 * const result = await new BuiltinTrainer().train({ dataset, hyperparameters: { epochs: 3 }, onProgress: console.log });
 * await writeFile('model.onnx', result.model);
 */
export class BuiltinTrainer implements Trainer {
  readonly kind = 'builtin';

  async train(job: TrainingJob): Promise<TrainingResult> {
    const hyperparameters = parseBuiltinHyperparameters(job.hyperparameters);
    const { dataset, signal, onProgress } = job;
    if (dataset.train.count === 0)
      throw new TrainingError('TRAINING_INVALID_DATASET', 'the train split is empty');
    if (dataset.classes.length < 2)
      throw new TrainingError('TRAINING_INVALID_DATASET', 'need at least two classes');
    if (signal?.aborted) throw abortError(signal);
    const started = performance.now();
    const workerData: WorkerInput = { entry: WORKER_ENTRY, dataset, hyperparameters };
    // The bootstrap registers tsx inside the worker (our sources are TypeScript); an empty execArgv
    // keeps the parent's loader flags (vitest's, tsx's) from being applied a second time.
    const worker = new Worker(WORKER_BOOTSTRAP, { workerData, execArgv: [] });

    return new Promise<TrainingResult>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        outcome();
        void worker.terminate();
      };
      const onAbort = () => finish(() => reject(abortError(signal)));
      signal?.addEventListener('abort', onAbort, { once: true });

      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'progress') {
          const progress: TrainingProgress = {
            ...message.progress,
            elapsedMs: Math.round(performance.now() - started),
          };
          if (!settled) onProgress?.(progress);
        } else if (message.type === 'result') {
          finish(() =>
            resolve({
              model: message.model,
              metrics: message.metrics,
              hyperparameters: { ...hyperparameters },
              durationMs: Math.round(performance.now() - started),
            }),
          );
        } else {
          finish(() =>
            reject(new TrainingError(message.code, `built-in training failed: ${message.message}`)),
          );
        }
      });
      worker.on('error', (error) =>
        finish(() =>
          reject(
            new TrainingError('TRAINING_WORKER_FAILED', `training worker crashed: ${error.message}`, {
              cause: error,
            }),
          ),
        ),
      );
      worker.on('exit', (code) =>
        finish(() =>
          reject(
            new TrainingError(
              'TRAINING_WORKER_FAILED',
              `training worker exited with code ${code} before a result`,
            ),
          ),
        ),
      );
    });
  }
}

function abortError(signal: AbortSignal | undefined): TrainingError {
  return new TrainingError('TRAINING_ABORTED', 'training was aborted', { cause: signal?.reason });
}
