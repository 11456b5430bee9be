// The steps every pipeline operation shares once it holds an fp32 model: quantize on calibration
// images, evaluate variants on a test split, record golden sets, hold the result against the
// current champion. Each step wraps its stage's errors so a failure says which input was wrong.
import { EdgeloopError, type ModelVariant, type OutputSpec } from '@edgeloop/shared';
import type { Dataset, LabelledImages } from '../datasets/index.ts';
import {
  type ChampionComparison,
  compareWithChampion,
  EvaluationError,
  type EvaluationSet,
  evaluateModel,
  type LatencySettings,
  type ModelEvaluation,
} from '../evaluation/index.ts';
import type { ImageInput } from '../onnx/index.ts';
import { type QuantizationReport, type QuantizeOptions, quantizeModel } from '../quantization/index.ts';
import type { ArtifactStore, ModelRegistry, VersionRecord } from '../registry/index.ts';
import { stage } from './errors.ts';
import { buildGoldenSets } from './golden.ts';
import type { PhaseReporter } from './progress.ts';

export interface BuiltVariant {
  variant: ModelVariant;
  bytes: Uint8Array;
  sessionOptions: Record<string, string>;
  quantizationReport?: QuantizationReport;
}

/** An evaluation as stored with a version: everything but the per-image predictions. */
export type EvaluationMetrics = Omit<ModelEvaluation, 'predictions'>;

export function evaluationMetrics(evaluation: ModelEvaluation): EvaluationMetrics {
  const { predictions: _predictions, ...metrics } = evaluation;
  return metrics;
}

export function evaluationSet(split: LabelledImages, dataset: Dataset): EvaluationSet {
  return { ...split, shape: dataset.shape, classes: dataset.classes };
}

/** The split to calibrate on: validation, or train when a dataset holds no validation images. */
export function calibrationSplit(dataset: Dataset): LabelledImages {
  return dataset.validation.count > 0 ? dataset.validation : dataset.train;
}

/** The split to test on: test, else validation. */
export function testSplit(dataset: Dataset): LabelledImages {
  return dataset.test.count > 0 ? dataset.test : dataset.validation;
}

const QUANT_STAGE_SPAN = {
  prepare: [0, 0.05],
  calibrate: [0.05, 0.4],
  plan: [0.4, 1],
  done: [1, 1],
} as const;

export async function quantizeStep(
  fp32: Uint8Array,
  dataset: Dataset,
  options: Omit<QuantizeOptions, 'onProgress'>,
  report: PhaseReporter,
): Promise<BuiltVariant> {
  const split = calibrationSplit(dataset);
  if (split.count === 0) {
    throw new EdgeloopError('VALIDATION_FAILED', `calibration data: dataset ${dataset.name} has no images`, {
      details: { reason: 'QUANT_CALIBRATION_EMPTY' },
    });
  }
  const { model, report: quantization } = await stage('calibration data', () =>
    quantizeModel(
      fp32,
      { images: split.images, count: split.count, shape: dataset.shape },
      {
        ...options,
        onProgress: (p) => {
          const [from, to] = QUANT_STAGE_SPAN[p.stage];
          report(from + (to - from) * (p.total > 0 ? p.done / p.total : 1), `${p.stage}: ${p.message}`);
        },
      },
    ),
  );
  return {
    variant: 'int8',
    bytes: model,
    sessionOptions: quantization.sessionOptions,
    quantizationReport: quantization,
  };
}

/** Evaluates each variant on the test split, in order. */
export async function evaluateStep(
  variants: BuiltVariant[],
  dataset: Dataset,
  latency: Partial<LatencySettings>,
  report: PhaseReporter,
): Promise<Map<ModelVariant, ModelEvaluation>> {
  const set = evaluationSet(testSplit(dataset), dataset);
  const results = new Map<ModelVariant, ModelEvaluation>();
  for (const [i, v] of variants.entries()) {
    report(i / variants.length, `${v.variant} on ${set.count} test images`);
    const evaluation = await stage(`evaluating ${v.variant} on ${dataset.name}`, () =>
      evaluateModel(v.bytes, set, { sessionOptions: v.sessionOptions, latency }),
    );
    results.set(v.variant, evaluation);
  }
  report(1);
  return results;
}

export async function goldenStep(args: {
  variants: BuiltVariant[];
  input: ImageInput;
  outputs: OutputSpec[];
  dataset: Dataset;
}) {
  return stage('golden set', () =>
    buildGoldenSets({
      variants: args.variants,
      input: args.input,
      outputs: args.outputs,
      split: testSplit(args.dataset),
      shape: args.dataset.shape,
      classes: args.dataset.classes.length,
    }),
  );
}

/** The comparison with the current champion, per variant both have; `skipped` says why there is none. */
export interface ChampionReport {
  championVersion: number | null;
  variants: Partial<Record<ModelVariant, ChampionComparison>>;
  skipped?: string;
}

export async function currentChampion(
  registry: ModelRegistry,
  model: string,
): Promise<VersionRecord | undefined> {
  try {
    return await registry.resolveAlias(model, 'champion');
  } catch (error) {
    if (error instanceof EdgeloopError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}

export async function championStep(args: {
  champion: VersionRecord | undefined;
  store: ArtifactStore;
  variants: BuiltVariant[];
  dataset: Dataset;
  latency: Partial<LatencySettings>;
  report: PhaseReporter;
}): Promise<ChampionReport> {
  const { champion } = args;
  if (champion === undefined) return { championVersion: null, variants: {}, skipped: 'no champion yet' };
  const set = evaluationSet(testSplit(args.dataset), args.dataset);
  const result: ChampionReport = { championVersion: champion.version, variants: {} };
  const pairs = args.variants.flatMap((v) => {
    const theirs = champion.variants.find((c) => c.variant === v.variant);
    return theirs === undefined ? [] : [{ ours: v, theirs }];
  });
  for (const [i, { ours, theirs }] of pairs.entries()) {
    args.report(i / pairs.length, `${ours.variant} against champion v${champion.version}`);
    const bytes = await args.store.get(theirs.sha256);
    try {
      result.variants[ours.variant] = await compareWithChampion(
        { bytes, sessionOptions: theirs.manifest.sessionOptions },
        { bytes: ours.bytes, sessionOptions: ours.sessionOptions },
        set,
        args.latency,
      );
    } catch (error) {
      // A champion reading other images (another size, other channels) cannot be compared on this data.
      if (!(error instanceof EvaluationError)) throw error;
      return { championVersion: champion.version, variants: {}, skipped: error.message };
    }
  }
  args.report(1);
  return result;
}

/** The classes of an existing model must be the new version's classes, in the same order. */
export function checkClasses(existing: string[] | undefined, classes: string[], model: string): void {
  if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(classes)) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `model ${model} has classes ${JSON.stringify(existing)}; the new version's are ${JSON.stringify(classes)}`,
      { details: { reason: 'CLASS_MISMATCH' } },
    );
  }
}
