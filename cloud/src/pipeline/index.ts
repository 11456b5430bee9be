// The model pipeline: train / import / quantize / evaluate → signed registry versions, run as jobs.
export { type DatasetInput, type DatasetRef, datasetRefSchema, resolveDataset } from './datasets.ts';
export { failureOf, type PipelineFailure, toPipelineError } from './errors.ts';
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
export {
  detachedContext,
  type EvaluationOutcome,
  type ImportRequest,
  ModelPipeline,
  type ModelPipelineOptions,
  type RegisteredOutcome,
  type TrainerSpec,
  type TrainRequest,
  trainerSpecSchema,
} from './model-pipeline.ts';
export type { ProgressUpdate } from './progress.ts';
export type { ChampionReport } from './steps.ts';
