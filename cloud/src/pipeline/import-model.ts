// The import flow: a user's ONNX file, validated (cheaply, before a job starts), quantized on the
// calibration data, evaluated and compared with the champion when that data is labelled with the
// model's classes, then registered as a new version.
import { EdgeloopError, type PreprocessingSpecInput, preprocessingSpecSchema } from '@edgeloop/shared';
import { z } from 'zod';
import { type ModelLineage, sha256Hex } from '../registry/index.ts';
import { buildVariants, compareWithCurrentChampion } from './candidate-version.ts';
import { checkShapeMatches, type DatasetInput, resolveDataset } from './datasets.ts';
import type { JobContext } from './job.ts';
import { lineageOf } from './lineage.ts';
import { checkPreprocessing, describeOutputs, type OutputRole, readImageModel } from './manifest-fields.ts';
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

export interface ImportRequest {
  model: string;
  /** The ONNX file. */
  bytes: Uint8Array;
  classes: string[];
  preprocessing: PreprocessingSpecInput;
  /** Roles of outputs whose names do not say (`logits`, `probabilities`, `embedding`). */
  outputRoles?: Record<string, OutputRole>;
  /** Images to calibrate int8 on; when labelled with the same classes, its test split evaluates. */
  calibration: DatasetInput;
  aliases?: string[];
  description?: string;
  actor?: string;
}

/** The phases of an operation that starts from an ONNX model: an import, or quantizing a version again. */
export const IMPORT_PHASES = [
  ['validating', 2],
  ['dataset', 5],
  ['quantizing', 50],
  ['evaluating', 25],
  ['golden', 5],
  ['champion', 10],
  ['registering', 3],
] as const;

/** Registers a user's ONNX model: validated, quantized on the calibration data, evaluated when labelled. */
export async function importModel(
  services: PipelineServices,
  request: ImportRequest,
  context: JobContext,
): Promise<RegisteredOutcome> {
  const progress = new PhasedProgress(context.progress, IMPORT_PHASES);
  progress.phase('validating');
  const { name, aliases, input, preprocessing, classes, outputs, existing } = await validateImport(
    services,
    request,
  );

  progress.phase('dataset', 'loading calibration data');
  const dataset = await resolveDataset(request.calibration, 'calibration data');
  checkShapeMatches(dataset, input, 'calibration data', 'QUANT_CALIBRATION_SHAPE');
  // Labels only mean something when they name the model's classes, in its order.
  const labelled = JSON.stringify(dataset.classes) === JSON.stringify(classes);
  checkAborted(context.signal);

  const fp32: BuiltVariant = { variant: 'fp32', bytes: request.bytes, sessionOptions: {} };
  const candidate = { fp32, dataset, input, outputs, labelled };
  const { variants, evaluations, golden } = await buildVariants(services, candidate, progress, context);
  const champion = labelled
    ? await compareWithCurrentChampion(services, { name, existing, variants, dataset, progress })
    : {
        championVersion: null,
        variants: {},
        skipped: 'calibration data is not labelled with the model classes',
      };
  checkAborted(context.signal);

  progress.phase('registering');
  const referenceProfile = await referenceProfileStep({
    fp32,
    input,
    outputs,
    dataset,
    classes: classes.length,
    preprocessing,
  });
  const lineage: ModelLineage = {
    ...(await lineageOf({
      dataset,
      trainer: 'import',
      hyperparameters: { importedSha256: sha256Hex(request.bytes) },
    })),
  };
  return registerVersion(services, {
    name,
    existing,
    classes: classes,
    description: request.description ?? 'imported ONNX model',
    actor: request.actor ?? 'system',
    aliases: aliases ?? (champion.championVersion === null && !existing ? ['champion'] : ['challenger']),
    lineage,
    referenceProfile,
    metrics: {
      calibration: { name: dataset.name, version: dataset.version, labelled },
      goldenMaxVariantDifference: golden?.maxVariantDifference ?? null,
    },
    variants: registrationVariants({
      variants,
      shared: { input, outputs, classes: classes, preprocessing },
      golden,
      evaluations,
    }),
    champion,
  });
}

/**
 * The checks of an import that need no calibration data: the file is ONNX with one image input, the
 * preprocessing produces that input, the class names match the score output and the model. Cheap,
 * so the API runs them before it starts a job and a bad file is refused in the response itself.
 */
export async function validateImport(services: PipelineServices, request: ImportRequest) {
  const name = parseName(request.model);
  const aliases = parseAliases(request.aliases);
  const { model, input } = await readImageModel(request.bytes, 'model file');
  const parsed = preprocessingSpecSchema.safeParse(request.preprocessing);
  if (!parsed.success) {
    throw new EdgeloopError('VALIDATION_FAILED', `preprocessing: ${z.prettifyError(parsed.error)}`, {
      details: parsed.error.issues,
    });
  }
  const preprocessing = parsed.data;
  checkPreprocessing(preprocessing, input);
  const parsedClasses = z.array(z.string().min(1).max(64)).min(2).max(1000).safeParse(request.classes);
  if (!parsedClasses.success)
    throw new EdgeloopError('VALIDATION_FAILED', 'classes: give at least two class names (at most 1000)');
  const classes = parsedClasses.data;
  const outputs = describeOutputs(model, classes.length, request.outputRoles);
  const existing = await existingModel(services.registry, name);
  checkClasses(existing?.classes, classes, name);

  return { name, aliases, input, preprocessing, classes: classes, outputs, existing };
}
