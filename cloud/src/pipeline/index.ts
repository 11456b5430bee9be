// The model pipeline: train / import / quantize / evaluate → signed registry versions, run as jobs.
export { type DatasetInput, type DatasetRef, datasetRefSchema, resolveDataset } from './datasets.ts';
export { failureOf, type PipelineFailure, toPipelineError } from './errors.ts';
export type { ImportRequest } from './import-model.ts';
export {
  isTerminal,
  JOB_FINISHED_EVENT,
  JOB_KINDS,
  JOB_STARTED_EVENT,
  JOB_STATUSES,
  type Job,
  type JobContext,
  type JobKind,
  type JobListener,
  JobRunner,
  type JobRunnerOptions,
  type JobStatus,
} from './job.ts';
export { codeVersion } from './lineage.ts';
export { outputRoleSchema } from './manifest-fields.ts';
export { ModelJobs } from './model-jobs.ts';
export { detachedContext, ModelPipeline } from './model-pipeline.ts';
export type { ModelPipelineOptions } from './pipeline-services.ts';
export type { ProgressUpdate } from './progress.ts';
export type { RegisteredOutcome } from './registration.ts';
export type { ChampionReport } from './steps.ts';
export { type TrainerSpec, type TrainRequest, trainerSpecSchema } from './train-model.ts';
export type { EvaluationOutcome } from './version-operations.ts';
