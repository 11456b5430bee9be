/**
 * Stable codes for everything that can go wrong while training. Callers branch on `code`; the
 * message says what happened and, for external trainers, quotes the tail of the command's stderr.
 */
export type TrainingErrorCode =
  | 'TRAINING_ABORTED'
  | 'TRAINING_INVALID_HYPERPARAMETERS'
  | 'TRAINING_INVALID_DATASET'
  | 'TRAINING_WORKER_FAILED'
  | 'TRAINER_COMMAND_INVALID'
  | 'TRAINER_COMMAND_NOT_STARTED'
  | 'TRAINER_COMMAND_FAILED'
  | 'TRAINER_OUTPUT_MISSING'
  | 'TRAINER_OUTPUT_INVALID';

export class TrainingError extends Error {
  override readonly name = 'TrainingError';
  readonly code: TrainingErrorCode;

  constructor(code: TrainingErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
