export type { CalibrationMethod, TensorRange } from './calibrate.ts';
export { QuantizationError, type QuantizationErrorCode } from './errors.ts';
export { affineParams, quantizeSymmetricPerChannel } from './int8.ts';
export type { NodeMode } from './ops.ts';
export { FOLD_WEIGHT_DEQUANTIZE } from './plan.ts';
export { prepareModel } from './prepare.ts';
export {
  type CalibrationImages,
  type QuantizationProgress,
  type QuantizedModel,
  type QuantizeOptions,
  quantizeModel,
} from './quantize.ts';
export type { CandidateReport, NodeMeasurement, NodeReport, QuantizationReport } from './report.ts';
