/**
 * Stable codes for everything that can go wrong while loading, building or storing a dataset.
 * Callers branch on `code`, never on the message; the message names the file or field at fault.
 */
export type DatasetErrorCode =
  | 'DATASET_NOT_FOUND'
  | 'DATASET_EMPTY'
  | 'DATASET_SINGLE_CLASS'
  | 'DATASET_TOO_MANY_CLASSES'
  | 'DATASET_UNREADABLE_IMAGE'
  | 'DATASET_CORRUPT'
  | 'DATASET_INCOMPATIBLE'
  | 'DATASET_INVALID_SAMPLE'
  | 'DATASET_INVALID_ARGUMENT';

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly code: DatasetErrorCode;
  /** The file or directory at fault, when there is one. */
  readonly path: string | undefined;

  constructor(code: DatasetErrorCode, message: string, options: { cause?: unknown; path?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
  }
}
