// Operations on a version already in the registry: quantize its fp32 variant again (registered as a
// new version, since versions are immutable), or evaluate its variants again and compare them with
// the champion (registers nothing).
import { EdgeloopError, type ModelVariant, referenceProfileSchema } from '@edgeloop/shared';
import type { Dataset } from '../datasets/index.ts';
import type { VersionRecord } from '../registry/index.ts';
import { buildVariants } from './candidate-version.ts';
import { checkShapeMatches, type DatasetInput, reloadableRef, resolveDataset } from './datasets.ts';
import { IMPORT_PHASES } from './import-model.ts';
import type { JobContext } from './job.ts';
import { codeVersion } from './lineage.ts';
import { readImageModel } from './manifest-fields.ts';
import type { PipelineServices } from './pipeline-services.ts';
import { PhasedProgress } from './progress.ts';
import { type RegisteredOutcome, registerVersion, registrationVariants } from './registration.ts';
import { checkAborted, parseAliases } from './request-checks.ts';
import {
  type BuiltVariant,
  type ChampionReport,
  championStep,
  checkClasses,
  currentChampion,
  evaluateStep,
  evaluationMetrics,
} from './steps.ts';

export interface EvaluationOutcome {
  model: string;
  version: number;
  dataset: { name: string; version: string };
  variants: Partial<Record<ModelVariant, ReturnType<typeof evaluationMetrics>>>;
  champion: ChampionReport;
}

/** Which version to quantize again, on what (by default the data it was trained on), under which aliases. */
export interface QuantizeVersionRequest {
  model: string;
  version: number;
  calibration?: DatasetInput;
  aliases?: string[];
  actor?: string;
}

/** Which version to evaluate, on what (by default the data it was trained on). */
export interface EvaluateVersionRequest {
  model: string;
  version: number;
  dataset?: DatasetInput;
}

const EVALUATE_PHASES = [
  ['dataset', 10],
  ['evaluating', 70],
  ['champion', 20],
] as const;

/**
 * Quantizes an existing version's fp32 variant again (other calibration data, a newer quantizer)
 * and registers the result as a new version whose parent is that version: versions are immutable.
 */
export async function quantizeVersion(
  services: PipelineServices,
  request: QuantizeVersionRequest,
  context: JobContext,
): Promise<RegisteredOutcome> {
  const progress = new PhasedProgress(context.progress, IMPORT_PHASES);
  progress.phase('validating');
  const aliases = parseAliases(request.aliases) ?? [];
  const record = await services.registry.getVersion(request.model, request.version);
  const fp32Record = record.variants.find((v) => v.variant === 'fp32');
  if (fp32Record === undefined)
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `${request.model} v${request.version} has no fp32 variant to quantize`,
    );
  const bytes = await services.store.get(fp32Record.sha256);
  const { input } = await readImageModel(bytes, `${request.model} v${request.version}`);
  progress.phase('dataset', 'loading calibration data');
  const dataset = await datasetFor(record, request.calibration, 'calibration data');
  checkShapeMatches(dataset, input, 'calibration data', 'QUANT_CALIBRATION_SHAPE');
  const labelled = JSON.stringify(dataset.classes) === JSON.stringify(fp32Record.manifest.classes);

  const fp32: BuiltVariant = { variant: 'fp32', bytes, sessionOptions: fp32Record.manifest.sessionOptions };
  const { outputs } = fp32Record.manifest;
  const candidate = { fp32, dataset, input, outputs, labelled };
  const { variants, evaluations, golden } = await buildVariants(services, candidate, progress, context);
  checkAborted(context.signal);
  progress.phase('registering');
  const model = await services.registry.getModel(request.model);
  return registerVersion(services, {
    name: request.model,
    existing: model,
    classes: model.classes,
    description: model.description,
    actor: request.actor ?? 'system',
    aliases,
    lineage: { ...record.lineage, codeVersion: await codeVersion(), parentVersion: request.version },
    // Same fp32 model, same validation outputs: the drift baseline carries over.
    referenceProfile: referenceProfileSchema.safeParse(record.referenceProfile).data,
    metrics: {
      ...(record.metrics ?? {}),
      requantized: { from: request.version, calibration: { name: dataset.name, version: dataset.version } },
      goldenMaxVariantDifference: golden?.maxVariantDifference ?? null,
    },
    variants: registrationVariants({
      variants,
      shared: { input, outputs, classes: model.classes, preprocessing: fp32Record.manifest.preprocessing },
      golden,
      evaluations,
    }),
    champion: {
      championVersion: null,
      variants: {},
      skipped: 'not compared: a re-quantization of an existing version',
    },
  });
}

/** Evaluates every variant of a version (on its own dataset, or another) and compares it with the champion. */
export async function evaluateVersion(
  services: PipelineServices,
  request: EvaluateVersionRequest,
  context: JobContext,
): Promise<EvaluationOutcome> {
  const progress = new PhasedProgress(context.progress, EVALUATE_PHASES);
  progress.phase('dataset', 'loading');
  const record = await services.registry.getVersion(request.model, request.version);
  const dataset = await datasetFor(record, request.dataset, 'dataset');
  checkClasses(record.variants[0]?.manifest.classes, dataset.classes, request.model);
  const variants: BuiltVariant[] = [];
  for (const v of record.variants) {
    variants.push({
      variant: v.variant,
      bytes: await services.store.get(v.sha256),
      sessionOptions: v.manifest.sessionOptions,
    });
  }
  const { input } = await readImageModel(variants[0]!.bytes, `${request.model} v${request.version}`);
  checkShapeMatches(dataset, input, 'evaluation data');
  checkAborted(context.signal);
  const evaluations = await evaluateStep(variants, dataset, services.latency, progress.phase('evaluating'));
  const champion = await currentChampion(services.registry, request.model);
  const comparison = await championStep({
    champion: champion?.version === request.version ? undefined : champion,
    store: services.store,
    variants,
    dataset,
    latency: services.latency,
    report: progress.phase('champion'),
  });
  if (champion?.version === request.version) comparison.skipped = 'this version is the champion';
  return {
    model: request.model,
    version: request.version,
    dataset: { name: dataset.name, version: dataset.version },
    variants: Object.fromEntries([...evaluations].map(([k, e]) => [k, evaluationMetrics(e)])),
    champion: comparison,
  };
}

/** The dataset a request names, else the one the version was trained on, when it can be loaded again. */
async function datasetFor(
  record: VersionRecord,
  input: DatasetInput | undefined,
  what: string,
): Promise<Dataset> {
  if (input !== undefined) return resolveDataset(input, what);
  const ref = reloadableRef(record.lineage.dataset?.source);
  if (ref === undefined) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `${what}: ${record.model} v${record.version} was not trained on a dataset that can be loaded again; name one`,
    );
  }
  return resolveDataset(ref, what);
}
