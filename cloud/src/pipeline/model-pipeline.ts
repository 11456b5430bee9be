// The model pipeline: dataset → train → export → quantize → evaluate → golden set → compare with
// the champion → register, signed, with lineage. Also the shorter paths that start from a user's
// ONNX file (import) or an existing version (quantize again, evaluate again). Every input is checked
// before the registry is written to, and the registry is written once, at the end: a failure at any
// step leaves it as it was. This class is the entry point; each flow lives in its own module.
import { type ImportRequest, importModel, validateImport } from './import-model.ts';
import type { JobContext } from './job.ts';
import { type ModelPipelineOptions, type PipelineServices, pipelineServices } from './pipeline-services.ts';
import type { RegisteredOutcome } from './registration.ts';
import { type TrainRequest, trainModel } from './train-model.ts';
import {
  type EvaluateVersionRequest,
  type EvaluationOutcome,
  evaluateVersion,
  type QuantizeVersionRequest,
  quantizeVersion,
} from './version-operations.ts';

/** A context for calls outside a job (tests, scripts): never aborted, progress ignored. */
export function detachedContext(): JobContext {
  return { signal: new AbortController().signal, progress: () => {} };
}

export class ModelPipeline {
  readonly #services: PipelineServices;

  constructor(options: ModelPipelineOptions) {
    this.#services = pipelineServices(options);
  }

  /**
   * Trains a new version of `model` and registers it with fp32 and int8 variants.
   *
   * @example
   * const outcome = await pipeline.train({ model: 'digits', dataset: { kind: 'mnist' }, hyperparameters: { epochs: 2 } }, detachedContext());
   */
  train(request: TrainRequest, context: JobContext): Promise<RegisteredOutcome> {
    return trainModel(this.#services, request, context);
  }

  /** Registers a user's ONNX model: validated, quantized on the calibration data, evaluated when labelled. */
  importModel(request: ImportRequest, context: JobContext): Promise<RegisteredOutcome> {
    return importModel(this.#services, request, context);
  }

  /**
   * The checks of an import that need no calibration data (see `validateImport` in import-model.ts).
   * Cheap, so the API runs them before it starts a job and a bad file is refused in the response itself.
   */
  validateImport(request: ImportRequest) {
    return validateImport(this.#services, request);
  }

  /**
   * Quantizes an existing version's fp32 variant again (other calibration data, a newer quantizer)
   * and registers the result as a new version whose parent is that version: versions are immutable.
   */
  quantizeVersion(request: QuantizeVersionRequest, context: JobContext): Promise<RegisteredOutcome> {
    return quantizeVersion(this.#services, request, context);
  }

  /** Evaluates every variant of a version (on its own dataset, or another) and compares it with the champion. */
  evaluateVersion(request: EvaluateVersionRequest, context: JobContext): Promise<EvaluationOutcome> {
    return evaluateVersion(this.#services, request, context);
  }
}
