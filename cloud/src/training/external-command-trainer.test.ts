import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ExternalCommandTrainer } from './external-command-trainer.ts';
import { mnistSubset } from './fixtures/mnist-digits.ts';
import type { TrainingProgress } from './trainer.ts';

const STAND_IN = new URL('./fixtures/centroid-trainer.mjs', import.meta.url).pathname;
const command = (mode = 'ok') => [process.execPath, STAND_IN, '{dataset}', '{out}', `--mode=${mode}`];
const dataset = mnistSubset({ train: 500, validation: 200, test: 200 });

describe('ExternalCommandTrainer', () => {
  it('runs a stand-in training program and returns its model, metrics and progress', async () => {
    const progress: TrainingProgress[] = [];
    const result = await new ExternalCommandTrainer({ command: command() }).train({
      dataset,
      hyperparameters: { note: 'passed through' },
      onProgress: (p) => progress.push(p),
    });

    expect(result.hyperparameters).toEqual({ note: 'passed through' });
    expect(result.metrics).toMatchObject({ trainer: 'centroids' });
    expect(result.metrics.validationAccuracy).toBeGreaterThan(0.6);
    // Plain log lines and malformed progress are skipped; the two valid reports arrive in order.
    expect(progress.map((p) => p.batch)).toEqual([1, 2]);
    expect(progress[1]!.validationAccuracy).toBe(result.metrics.validationAccuracy);

    // The model it wrote is real: run it on the test split and check it classifies.
    const session = await ort.InferenceSession.create(result.model);
    const out = await session.run({
      input: new ort.Tensor('float32', dataset.test.images, [dataset.test.count, 1, 28, 28]),
    });
    const probabilities = out['probabilities']!.data as Float32Array;
    let correct = 0;
    for (let i = 0; i < dataset.test.count; i++) {
      const row = Array.from(probabilities.subarray(i * 10, (i + 1) * 10));
      if (row.indexOf(Math.max(...row)) === dataset.test.labels[i]) correct++;
    }
    expect(correct / dataset.test.count).toBeGreaterThan(0.6);
    await session.release();
  });

  it.each([
    ['fail', 'TRAINER_COMMAND_FAILED', /exited with code 3:\nRuntimeError: CUDA out of memory/],
    ['no-output', 'TRAINER_OUTPUT_MISSING', /wrote no \{out\}\/model\.onnx/],
    ['bad-metrics', 'TRAINER_OUTPUT_INVALID', /metrics\.json is invalid/],
    ['bad-model', 'TRAINER_OUTPUT_INVALID', /lacks the model contract's output "embedding"/],
  ])('mode %s rejects with %s', async (mode, code, message) => {
    const attempt = new ExternalCommandTrainer({ command: command(mode) }).train({ dataset });
    await expect(attempt).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it('reports a program that cannot be started', async () => {
    const attempt = new ExternalCommandTrainer({ command: ['/nonexistent/trainer', '{dataset}'] }).train({
      dataset,
    });
    await expect(attempt).rejects.toMatchObject({ code: 'TRAINER_COMMAND_NOT_STARTED' });
    expect(() => new ExternalCommandTrainer({ command: [] })).toThrow(
      expect.objectContaining({ code: 'TRAINER_COMMAND_INVALID' }),
    );
  });

  it('kills the program when aborted', async () => {
    const controller = new AbortController();
    const attempt = new ExternalCommandTrainer({ command: command('hang') }).train({
      dataset,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(attempt).rejects.toMatchObject({ code: 'TRAINING_ABORTED' });
  });
});
