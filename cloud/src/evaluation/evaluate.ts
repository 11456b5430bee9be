import {
  createSession,
  decodeModel,
  detectImageInput,
  type ImageInput,
  type SessionConfigEntries,
  toLayout,
} from '../onnx/index.ts';
import { EvaluationError } from './errors.ts';
import { DEFAULT_LATENCY, type LatencySettings, type LatencyStats, measureLatencies } from './latency.ts';
import { accuracyOf, type ClassMetrics, confusionMatrix, perClassMetrics } from './metrics.ts';
import { agreement, type ImageBatchSource, predictWithSession } from './predict.ts';

/** A labelled split with its shape and class names (a Dataset's test split fits). */
export interface EvaluationSet {
  count: number;
  /** count × C × H × W floats, NCHW (the dataset layout). */
  images: Float32Array;
  labels: Uint8Array;
  shape: { channels: number; height: number; width: number };
  classes: string[];
}

/** A model variant as it ships: bytes plus the session options it must be opened with. */
export interface ModelVariant {
  bytes: Uint8Array;
  sessionOptions?: SessionConfigEntries;
}

export interface EvaluateOptions {
  sessionOptions?: SessionConfigEntries;
  /** Latency measurement; `false` skips it (accuracy only). */
  latency?: Partial<LatencySettings> | false;
}

export interface ModelEvaluation {
  accuracy: number;
  perClass: ClassMetrics[];
  /** confusion[actual][predicted]. */
  confusion: number[][];
  /** ms per run, one intra-op thread; b32 is null for a model with a fixed batch of 1. */
  latency: { b1: LatencyStats; b32: LatencyStats | null } | null;
  bytes: number;
  predictions: Uint8Array;
}

export async function evaluateModel(
  modelBytes: Uint8Array,
  testSet: EvaluationSet,
  options: EvaluateOptions = {},
): Promise<ModelEvaluation> {
  const input = detectImageInput(decodeModel(modelBytes));
  const source = batchSource(input, testSet);
  const entries = options.sessionOptions ? { configEntries: options.sessionOptions } : {};
  const session = await createSession(modelBytes, entries);
  let predictions: Uint8Array;
  try {
    predictions = await predictWithSession(session, source);
  } finally {
    await session.release();
  }
  if (predictions.some((p) => p >= testSet.classes.length)) {
    throw new EvaluationError(
      'EVAL_CLASS_MISMATCH',
      `Model predicts class indices beyond the ${testSet.classes.length} classes of the evaluation set`,
    );
  }
  const confusion = confusionMatrix(testSet.labels, predictions, testSet.classes.length);
  return {
    accuracy: accuracyOf(confusion),
    perClass: perClassMetrics(confusion, testSet.classes),
    confusion,
    latency:
      options.latency === false
        ? null
        : await measureBatchLatency(
            [
              {
                bytes: modelBytes,
                ...(options.sessionOptions ? { sessionOptions: options.sessionOptions } : {}),
              },
            ],
            input,
            source,
            options.latency,
          ).then((r) => r[0]!),
    bytes: modelBytes.length,
    predictions,
  };
}

export interface VariantComparison {
  /** Share of images where both variants predict the same class. */
  agreement: number;
  referenceTop1: number;
  candidateTop1: number;
  /** candidate − reference top-1 accuracy, in percentage points. */
  top1DeltaPoints: number;
}

export async function compareVariants(
  reference: ModelVariant,
  candidate: ModelVariant,
  testSet: EvaluationSet,
): Promise<VariantComparison> {
  const [ref, cand] = [
    await evaluateModel(reference.bytes, testSet, { ...sessionOf(reference), latency: false }),
    await evaluateModel(candidate.bytes, testSet, { ...sessionOf(candidate), latency: false }),
  ];
  return {
    agreement: agreement(ref.predictions, cand.predictions),
    referenceTop1: ref.accuracy,
    candidateTop1: cand.accuracy,
    top1DeltaPoints: (cand.accuracy - ref.accuracy) * 100,
  };
}

/** The numbers an evaluation gate reads when a challenger is held against the current champion. */
export interface ChampionComparison extends VariantComparison {
  champion: { accuracy: number; bytes: number; latencyB1Ms: number };
  challenger: { accuracy: number; bytes: number; latencyB1Ms: number };
  /** challenger / champion, batch-1 p50, measured interleaved in one run. */
  latencyRatioB1: number;
  sizeRatio: number;
}

export async function compareWithChampion(
  champion: ModelVariant,
  challenger: ModelVariant,
  testSet: EvaluationSet,
  latency: Partial<LatencySettings> = {},
): Promise<ChampionComparison> {
  const variants = await compareVariants(champion, challenger, testSet);
  const [a, b] = await measureVariantsLatency([champion, challenger], testSet, latency);
  return {
    ...variants,
    champion: { accuracy: variants.referenceTop1, bytes: champion.bytes.length, latencyB1Ms: a!.b1.p50 },
    challenger: { accuracy: variants.candidateTop1, bytes: challenger.bytes.length, latencyB1Ms: b!.b1.p50 },
    latencyRatioB1: b!.b1.p50 / a!.b1.p50,
    sizeRatio: challenger.bytes.length / champion.bytes.length,
  };
}

/**
 * Batch-1 and batch-32 latency of variants of one model (same input), measured interleaved so
 * their ratios hold on a noisy machine.
 */
export async function measureVariantsLatency(
  variants: ModelVariant[],
  testSet: EvaluationSet,
  latency: Partial<LatencySettings> = {},
): Promise<{ b1: LatencyStats; b32: LatencyStats | null }[]> {
  const input = detectImageInput(decodeModel(variants[0]!.bytes));
  return measureBatchLatency(variants, input, batchSource(input, testSet), latency);
}

function sessionOf(v: { sessionOptions?: SessionConfigEntries }): { sessionOptions?: SessionConfigEntries } {
  return v.sessionOptions ? { sessionOptions: v.sessionOptions } : {};
}

async function measureBatchLatency(
  variants: ModelVariant[],
  input: ImageInput,
  source: ImageBatchSource,
  latency: Partial<LatencySettings> = {},
): Promise<{ b1: LatencyStats; b32: LatencyStats | null }[]> {
  const settings = { ...DEFAULT_LATENCY, ...latency };
  const perImage = source.imageDims.reduce((a, b) => a * b, 1);
  const subjects = variants.map((v) => ({
    bytes: v.bytes,
    ...(v.sessionOptions ? { configEntries: v.sessionOptions } : {}),
  }));
  const feed = (n: number) => ({
    name: input.name,
    data: source.images.slice(0, n * perImage),
    dims: [n, ...source.imageDims],
  });
  const b1 = await measureLatencies(subjects, feed(1), settings);
  const canBatch = input.batch === null && source.count >= 32;
  // Batch 32 costs ~32× more per run: fewer samples keep the wall time comparable.
  const b32 = canBatch
    ? await measureLatencies(subjects, feed(32), {
        ...settings,
        samples: Math.max(10, Math.ceil(settings.samples / 4)),
        runsPerSample: 1,
      })
    : null;
  return b1.map((stats, i) => ({ b1: stats, b32: b32 ? b32[i]! : null }));
}

function batchSource(input: ImageInput, set: EvaluationSet): ImageBatchSource {
  if (set.count <= 0) throw new EvaluationError('EVAL_EMPTY_SET', 'The evaluation set has no images');
  const { channels, height, width } = set.shape;
  if (channels !== input.channels || height !== input.height || width !== input.width) {
    throw new EvaluationError(
      'EVAL_SHAPE_MISMATCH',
      `Evaluation images are ${channels}×${height}×${width} but model input '${input.name}' expects ${input.channels}×${input.height}×${input.width}`,
    );
  }
  if (set.images.length !== set.count * channels * height * width || set.labels.length !== set.count) {
    throw new EvaluationError(
      'EVAL_SHAPE_MISMATCH',
      `Evaluation set of ${set.count} images has ${set.images.length} floats and ${set.labels.length} labels`,
    );
  }
  return {
    inputName: input.name,
    images: toLayout(set.images, set.count, set.shape, input.layout),
    count: set.count,
    imageDims: input.layout === 'NCHW' ? [channels, height, width] : [height, width, channels],
    batchSize: input.batch ?? 32,
  };
}
