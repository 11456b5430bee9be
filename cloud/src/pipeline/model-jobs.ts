// The pipeline's operations started as jobs: what the API and the quick start call. Each returns the
// job at once; the work runs in the JobRunner's queue, and the request is recorded with the start
// event (without model bytes: a registered version keeps those).
import { sha256Hex } from '../registry/index.ts';
import type { DatasetInput } from './datasets.ts';
import type { ImportRequest } from './import-model.ts';
import type { Job, JobRunner } from './job.ts';
import type { ModelPipeline } from './model-pipeline.ts';
import type { RegisteredOutcome } from './registration.ts';
import type { TrainRequest } from './train-model.ts';
import type { QuantizeVersionRequest } from './version-operations.ts';

/** A dataset as the event log records it: references as given, in-memory datasets by name and version. */
function describeDataset(input: DatasetInput | undefined): unknown {
  if (input === undefined) return undefined;
  return 'train' in input ? { name: input.name, version: input.version } : input;
}

const summarize = (outcome: RegisteredOutcome) => ({
  version: outcome.version,
  aliases: outcome.aliases,
  variants: outcome.variants.map(({ variant, sha256, accuracy }) => ({ variant, sha256, accuracy })),
});

export class ModelJobs {
  constructor(
    readonly pipeline: ModelPipeline,
    readonly runner: JobRunner,
  ) {}

  train(request: TrainRequest): Job {
    const trainer =
      request.trainer && 'train' in request.trainer ? { kind: request.trainer.kind } : request.trainer;
    return this.runner.start({
      kind: 'train',
      model: request.model,
      ...(request.actor ? { actor: request.actor } : {}),
      request: {
        dataset: describeDataset(request.dataset),
        trainer: trainer ?? { kind: 'builtin' },
        hyperparameters: request.hyperparameters ?? {},
        ...(request.parentVersion === undefined ? {} : { parentVersion: request.parentVersion }),
      },
      run: (context) => this.pipeline.train(request, context),
      summarize,
    });
  }

  importModel(request: ImportRequest): Job {
    return this.runner.start({
      kind: 'import',
      model: request.model,
      ...(request.actor ? { actor: request.actor } : {}),
      request: {
        file: { sha256: sha256Hex(request.bytes), size: request.bytes.length },
        classes: request.classes,
        calibration: describeDataset(request.calibration),
      },
      run: (context) => this.pipeline.importModel(request, context),
      summarize,
    });
  }

  quantize(request: QuantizeVersionRequest): Job {
    return this.runner.start({
      kind: 'quantize',
      model: request.model,
      ...(request.actor ? { actor: request.actor } : {}),
      request: {
        version: request.version,
        calibration: describeDataset(request.calibration) ?? 'as trained',
      },
      run: (context) => this.pipeline.quantizeVersion(request, context),
      summarize,
    });
  }

  evaluate(request: { model: string; version: number; dataset?: DatasetInput; actor?: string }): Job {
    return this.runner.start({
      kind: 'evaluate',
      model: request.model,
      ...(request.actor ? { actor: request.actor } : {}),
      request: { version: request.version, dataset: describeDataset(request.dataset) ?? 'as trained' },
      run: (context) => this.pipeline.evaluateVersion(request, context),
      summarize: (outcome) => ({
        version: outcome.version,
        dataset: outcome.dataset,
        accuracy: Object.fromEntries(Object.entries(outcome.variants).map(([k, v]) => [k, v?.accuracy])),
      }),
    });
  }
}
