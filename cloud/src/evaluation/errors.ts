export type EvaluationErrorCode = 'EVAL_EMPTY_SET' | 'EVAL_SHAPE_MISMATCH' | 'EVAL_CLASS_MISMATCH';

export class EvaluationError extends Error {
  override readonly name = 'EvaluationError';
  constructor(
    readonly code: EvaluationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
