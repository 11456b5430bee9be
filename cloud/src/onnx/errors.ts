/** Stable codes for everything that can be wrong with a model file or its use. */
export type OnnxErrorCode =
  | 'ONNX_NOT_A_MODEL'
  | 'ONNX_TRUNCATED'
  | 'ONNX_INVALID_GRAPH'
  | 'ONNX_UNSUPPORTED_INPUT'
  | 'ONNX_UNSUPPORTED_TENSOR'
  | 'ONNX_RUNTIME_REJECTED';

export class OnnxFormatError extends Error {
  override readonly name = 'OnnxFormatError';
  constructor(
    readonly code: OnnxErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
