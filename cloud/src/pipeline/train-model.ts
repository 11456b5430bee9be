// The training flow: dataset → train → export → quantize → evaluate → golden set → compare with the
// champion → register a new version with fp32 and int8 variants. Also which trainer runs it.
import { EdgeloopError } from '@edgeloop/shared';
import { z } from 'zod';
import { BuiltinTrainer, ExternalCommandTrainer, type Trainer } from '../training/index.ts';
import { buildVariants, compareWithCurrentChampion } from './candidate-version.ts';
import { checkTrainable, type DatasetInput, preprocessingFor, resolveDataset } from './datasets.ts';
import { stage } from './errors.ts';
import type { JobContext } from './job.ts';
import { lineageOf } from './lineage.ts';
import { describeOutputs, readImageModel } from './manifest-fields.ts';
import type { PipelineServices } from './pipeline-services.ts';
import { PhasedProgress } from './progress.ts';
import { referenceProfileStep } from './reference-profile.ts';
import {
  existingModel,
  type RegisteredOutcome,
  registerVersion,
  registrationVariants,
} from './registration.ts';
import { checkAborted, parseAliases, parseName } from './request-checks.ts';
import { type BuiltVariant, checkClasses } from './steps.ts';

/** Which trainer runs: the built-in worker-thread CNN, or any command honouring the trainer contract. */
export const trainerSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('builtin') }),
  z.strictObject({
    kind: z.literal('external-command'),
    /** Program and arguments; `{dataset}`, `{out}`, `{hyperparameters}` are substituted. */
    command: z.array(z.string().min(1).max(4096)).min(1).max(64),
  }),
]);
export type TrainerSpec = z.infer<typeof trainerSpecSchema>;

export interface TrainRequest {
  model: string;
  dataset: DatasetInput;
  trainer?: TrainerSpec | Trainer;
  hyperparameters?: Record<string, unknown>;
  parentVersion?: number;
  /** Aliases for the new version; default `champion` for a model's first version, else `challenger`. */
  aliases?: string[];
  description?: string;
  actor?: string;
}

const TRAIN_PHASES = [
  ['dataset', 3],
  ['training', 60],
  ['quantizing', 17],
  ['evaluating', 12],
  ['golden', 2],
  ['champion', 4],
  ['registering', 2],
] as const;

/** Trains a new version of `request.model` and registers it with fp32 and int8 variants. */
export async function trainModel(
  services: PipelineServices,
  request: TrainRequest,
  context: JobContext,
): Promise<RegisteredOutcome> {
  const progress = new PhasedProgress(context.progress, TRAIN_PHASES);
  const name = parseName(request.model);
  const aliases = parseAliases(request.aliases);
  const trainer = trainerFor(request.trainer, services.workDir);

  progress.phase('dataset', 'loading');
  const dataset = await resolveDataset(request.dataset);
  checkTrainable(dataset);
  const existing = await existingModel(services.registry, name);
  checkClasses(existing?.classes, dataset.classes, name);
  if (request.parentVersion !== undefined) await services.registry.getVersion(name, request.parentVersion);
  checkAborted(context.signal);

  const training = progress.phase('training', `${trainer.kind} trainer`);
  const trained = await stage('training', () =>
    trainer.train({
      dataset,
      ...(request.hyperparameters === undefined ? {} : { hyperparameters: request.hyperparameters }),
      signal: context.signal,
      onProgress: (p) => {
        const epochs = Math.max(1, p.epochs);
        const within = p.batches > 0 ? p.batch / p.batches : 0;
        const fraction =
          p.phase === 'exporting' || p.phase === 'done' ? 1 : (Math.max(0, p.epoch - 1) + within) / epochs;
        const loss = p.loss === null ? '' : `, loss ${p.loss.toFixed(3)}`;
        training(fraction, `${p.phase} epoch ${p.epoch}/${p.epochs}, batch ${p.batch}/${p.batches}${loss}`);
      },
    }),
  );
  checkAborted(context.signal);
  const { model, input } = await readImageModel(trained.model, 'trained model');
  const outputs = describeOutputs(model, dataset.classes.length);
  const fp32: BuiltVariant = { variant: 'fp32', bytes: trained.model, sessionOptions: {} };

  const candidate = { fp32, dataset, input, outputs, labelled: true };
  const { variants, evaluations, golden } = await buildVariants(services, candidate, progress, context);
  const champion = await compareWithCurrentChampion(services, {
    name,
    existing,
    variants,
    dataset,
    progress,
  });
  checkAborted(context.signal);

  progress.phase('registering');
  const preprocessing = preprocessingFor(dataset, input);
  const referenceProfile = await referenceProfileStep({
    fp32,
    input,
    outputs,
    dataset,
    classes: dataset.classes.length,
    preprocessing,
  });
  const lineage = await lineageOf({
    dataset,
    trainer: trainer.kind,
    hyperparameters: trained.hyperparameters,
    parentVersion: request.parentVersion,
  });
  return registerVersion(services, {
    name,
    existing,
    classes: dataset.classes,
    description: request.description ?? `trained on ${dataset.name}`,
    actor: request.actor ?? 'system',
    aliases: aliases ?? (champion.championVersion === null ? ['champion'] : ['challenger']),
    lineage,
    referenceProfile,
    metrics: {
      training: trained.metrics,
      trainingMs: trained.durationMs,
      dataset: { name: dataset.name, version: dataset.version, test: dataset.test.count },
      goldenMaxVariantDifference: golden?.maxVariantDifference ?? null,
    },
    variants: registrationVariants({
      variants,
      shared: { input, outputs, classes: dataset.classes, preprocessing },
      golden,
      evaluations,
    }),
    champion,
  });
}

function trainerFor(spec: TrainerSpec | Trainer | undefined, workDir: string | undefined): Trainer {
  if (spec === undefined) return new BuiltinTrainer();
  if ('train' in spec) return spec;
  const parsed = trainerSpecSchema.safeParse(spec);
  if (!parsed.success)
    throw new EdgeloopError('VALIDATION_FAILED', `trainer: ${z.prettifyError(parsed.error)}`);
  if (parsed.data.kind === 'builtin') return new BuiltinTrainer();
  return new ExternalCommandTrainer({
    command: parsed.data.command,
    ...(workDir === undefined ? {} : { workDir }),
  });
}
