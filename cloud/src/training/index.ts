/**
 * Training: the `Trainer` interface the pipeline depends on, the built-in worker-thread CNN
 * trainer, the external-command trainer, and the ONNX export of the built-in network.
 */
export { BuiltinTrainer } from './builtin-trainer.ts';
export { TrainingError, type TrainingErrorCode } from './errors.ts';
export { exportCnnToOnnx, ONNX_IR_VERSION, ONNX_OPSET, type OnnxExportOptions } from './export-onnx.ts';
export { ExternalCommandTrainer, type ExternalCommandTrainerOptions } from './external-command-trainer.ts';
/** The GEMM kernels behind training, exported for `pnpm bench train --gemm`. */
export { gemm, gemmTransposedB } from './gemm.ts';
export {
  type BuiltinHyperparameters,
  BuiltinHyperparametersSchema,
  parseBuiltinHyperparameters,
} from './hyperparameters.ts';
export { Cnn, type CnnArchitecture, type CnnOutputs, type CnnWeights } from './network.ts';
export { type CnnTrainingOptions, type CnnTrainingOutcome, type EpochReport, trainCnn } from './train-cnn.ts';
export {
  type Hyperparameters,
  type Trainer,
  type TrainingJob,
  type TrainingMetrics,
  TrainingMetricsSchema,
  type TrainingProgress,
  TrainingProgressSchema,
  type TrainingResult,
} from './trainer.ts';
