// The pipeline's errors as the wire sees them. Each stage (datasets, training, ONNX, quantization,
// evaluation) throws its own coded error; at the pipeline's edge they become one EdgeloopError with a
// wire code the API maps to a status, the stage's own code kept as `details.reason` so a client can
// tell a truncated file from an unsupported input without reading the message.
import { EdgeloopError, type ErrorCode } from '@edgeloop/shared';
import { DatasetError } from '../datasets/index.ts';
import { EvaluationError } from '../evaluation/index.ts';
import { OnnxFormatError } from '../onnx/index.ts';
import { QuantizationError } from '../quantization/index.ts';
import { TrainingError } from '../training/index.ts';

/** What a failed job reports: the wire code, the stage's code, and a message naming the problem. */
export interface PipelineFailure {
  code: ErrorCode;
  reason: string;
  message: string;
}

const TRAINING_CODES: Record<string, ErrorCode> = {
  TRAINING_INVALID_HYPERPARAMETERS: 'VALIDATION_FAILED',
  TRAINING_INVALID_DATASET: 'VALIDATION_FAILED',
  TRAINER_COMMAND_INVALID: 'VALIDATION_FAILED',
  TRAINER_OUTPUT_MISSING: 'MODEL_INVALID',
  TRAINER_OUTPUT_INVALID: 'MODEL_INVALID',
  // Aborted jobs are reported as cancelled by the job runner; the code only shows in logs.
  TRAINING_ABORTED: 'UNAVAILABLE',
};

/** The wire code for a stage error; the stage's code itself becomes the reason. */
function wireCode(error: Error & { code: string }): ErrorCode {
  if (error instanceof OnnxFormatError) return 'MODEL_INVALID';
  if (error instanceof DatasetError) return 'VALIDATION_FAILED';
  if (error instanceof EvaluationError) return 'VALIDATION_FAILED';
  if (error instanceof QuantizationError)
    return error.code === 'QUANT_UNSUPPORTED_MODEL' ? 'MODEL_INVALID' : 'VALIDATION_FAILED';
  if (error instanceof TrainingError) return TRAINING_CODES[error.code] ?? 'INTERNAL';
  return 'INTERNAL';
}

function isStageError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof OnnxFormatError ||
    error instanceof DatasetError ||
    error instanceof EvaluationError ||
    error instanceof QuantizationError ||
    error instanceof TrainingError
  );
}

/**
 * Any error from a pipeline stage as an EdgeloopError (unchanged when it already is one). `stage`
 * prefixes the message ("calibration data: ...") so the reader knows which input was at fault.
 */
export function toPipelineError(error: unknown, stage?: string): EdgeloopError {
  if (error instanceof EdgeloopError) return error;
  const prefix = stage ? `${stage}: ` : '';
  if (isStageError(error)) {
    const path = (error as { path?: unknown }).path;
    return new EdgeloopError(wireCode(error), `${prefix}${error.message}`, {
      cause: error,
      details: { reason: error.code, ...(typeof path === 'string' ? { path } : {}) },
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EdgeloopError('INTERNAL', `${prefix}${message}`, { cause: error });
}

/** The failure as job data. INTERNAL failures keep their message: the job's owner is an operator. */
export function failureOf(error: unknown): PipelineFailure {
  const wrapped = toPipelineError(error);
  const details = wrapped.details as { reason?: unknown } | undefined;
  const reason = typeof details?.reason === 'string' ? details.reason : wrapped.code;
  return { code: wrapped.code, reason, message: wrapped.message };
}

/** Runs one stage, rethrowing its failure as a pipeline error that names the stage. */
export async function stage<T>(name: string, run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toPipelineError(error, name);
  }
}
