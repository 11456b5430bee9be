import { z } from 'zod';
import type { Dataset } from '../datasets/dataset.ts';

/**
 * Progress a trainer reports while it runs. The built-in trainer and external commands (one JSON
 * line `{"progress": {...}}` on stdout) share this shape, so one UI and one log format serve both.
 */
export const TrainingProgressSchema = z.object({
  phase: z.enum(['preparing', 'training', 'evaluating', 'exporting', 'done']),
  epoch: z.number().int().min(0),
  epochs: z.number().int().min(0),
  batch: z.number().int().min(0),
  batches: z.number().int().min(0),
  loss: z.number().nullable(),
  trainAccuracy: z.number().min(0).max(1).optional(),
  validationAccuracy: z.number().min(0).max(1).optional(),
  elapsedMs: z.number().min(0),
});
export type TrainingProgress = z.infer<typeof TrainingProgressSchema>;

/**
 * What a finished training reports about its model. The named fields are the ones the pipeline
 * reads; a trainer may add its own (per-epoch detail, hardware, …), kept as they are.
 */
export const TrainingMetricsSchema = z
  .object({
    trainLoss: z.number().optional(),
    trainAccuracy: z.number().min(0).max(1).optional(),
    validationAccuracy: z.number().min(0).max(1).optional(),
    testAccuracy: z.number().min(0).max(1).optional(),
  })
  .loose();
export type TrainingMetrics = z.infer<typeof TrainingMetricsSchema>;

export type Hyperparameters = Record<string, unknown>;

export interface TrainingJob {
  dataset: Dataset;
  /** Trainer-specific settings; each trainer validates them and reports the values it used. */
  hyperparameters?: Hyperparameters;
  onProgress?: (progress: TrainingProgress) => void;
  /** Aborting stops the training promptly and rejects with code TRAINING_ABORTED. */
  signal?: AbortSignal;
}

export interface TrainingResult {
  /** The trained model as ONNX bytes (input `input`; outputs `logits`, `probabilities`, `embedding`). */
  model: Uint8Array;
  metrics: TrainingMetrics;
  /** The settings actually used, defaults filled in: recorded as the model's lineage. */
  hyperparameters: Hyperparameters;
  durationMs: number;
}

/**
 * Anything that turns a dataset into an ONNX model. The pipeline and the retraining loop depend on
 * this interface only, so the built-in worker-thread trainer and an external command (a team's own
 * PyTorch script, a GPU job) are interchangeable.
 */
export interface Trainer {
  readonly kind: string;
  train(job: TrainingJob): Promise<TrainingResult>;
}
