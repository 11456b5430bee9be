export type QuantizationErrorCode =
  | 'QUANT_CALIBRATION_EMPTY'
  | 'QUANT_CALIBRATION_SHAPE'
  | 'QUANT_CALIBRATION_VALUES'
  | 'QUANT_UNSUPPORTED_MODEL';

export class QuantizationError extends Error {
  override readonly name = 'QuantizationError';
  constructor(
    readonly code: QuantizationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
