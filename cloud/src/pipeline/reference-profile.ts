// The drift baseline of a new version: the fp32 model run over held-out images, each input tensor
// with its probabilities (and embedding), summarised by `buildReferenceProfile`. Devices later bin
// what they see against this profile's edges, so it must come from the images the model was
// validated on, through the same preprocessing, not from the training images it memorised.
import {
  buildReferenceProfile,
  MIN_REFERENCE_SAMPLES,
  type ModelObservation,
  type OutputSpec,
  type PreprocessingSpec,
  type ReferenceProfile,
} from '@edgeloop/shared';
import type { Dataset, LabelledImages } from '../datasets/index.ts';
import { createSession, type ImageInput, imageTensor, toLayout } from '../onnx/index.ts';
import { stage } from './errors.ts';

/** Enough for stable deciles; more only costs registration time. */
const MAX_REFERENCE_IMAGES = 2_000;
const BATCH = 32;

/**
 * Held-out images for the profile: the validation split, topped up from the test split when it
 * alone is under `MIN_REFERENCE_SAMPLES` (both are unseen by training). Undefined when even both
 * are too few: the version is then registered without a profile, and devices without a spec.
 */
export function referenceImages(dataset: Dataset): LabelledImages | undefined {
  const splits = [dataset.validation, dataset.test].filter((s) => s.count > 0);
  const perImage = dataset.shape.channels * dataset.shape.height * dataset.shape.width;
  const count = Math.min(
    MAX_REFERENCE_IMAGES,
    splits.reduce((n, s) => n + s.count, 0),
  );
  if (dataset.validation.count >= MIN_REFERENCE_SAMPLES) {
    const n = Math.min(MAX_REFERENCE_IMAGES, dataset.validation.count);
    return {
      count: n,
      images: dataset.validation.images.subarray(0, n * perImage),
      labels: dataset.validation.labels.subarray(0, n),
    };
  }
  if (count < MIN_REFERENCE_SAMPLES) return undefined;
  const images = new Float32Array(count * perImage);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const split of splits) {
    const take = Math.min(split.count, count - at);
    images.set(split.images.subarray(0, take * perImage), at * perImage);
    labels.set(split.labels.subarray(0, take), at);
    at += take;
  }
  return { count, images, labels };
}

/** Runs the fp32 model over the reference images and builds the profile (undefined: too few images). */
export async function referenceProfileStep(args: {
  fp32: { bytes: Uint8Array; sessionOptions: Record<string, string> };
  input: ImageInput;
  outputs: OutputSpec[];
  dataset: Dataset;
  /** The model's class count (an import's calibration data may be labelled otherwise, or not at all). */
  classes: number;
  preprocessing: PreprocessingSpec;
}): Promise<ReferenceProfile | undefined> {
  const split = referenceImages(args.dataset);
  if (split === undefined) return undefined;
  return stage('reference profile', async () => {
    const observations = await observe(args, split);
    return buildReferenceProfile({
      preprocessing: args.preprocessing,
      classes: args.classes,
      // Without an embedding output the profile has no embedding features and no projection.
      ...(args.outputs.some((o) => o.role === 'embedding') ? {} : { projection: null }),
      observations,
    });
  });
}

async function observe(
  args: Parameters<typeof referenceProfileStep>[0],
  split: LabelledImages,
): Promise<ModelObservation[]> {
  const { input, dataset } = args;
  const { classes } = args;
  const perImage = dataset.shape.channels * dataset.shape.height * dataset.shape.width;
  const images = toLayout(split.images, split.count, dataset.shape, input.layout);
  const dims =
    input.layout === 'NCHW'
      ? [input.channels, input.height, input.width]
      : [input.height, input.width, input.channels];
  const probabilities = args.outputs.find((o) => o.role === 'probabilities');
  const logits = args.outputs.find((o) => o.role === 'logits');
  const embedding = args.outputs.find((o) => o.role === 'embedding');
  const wanted = [probabilities ?? logits, embedding].flatMap((o) => (o ? [o.name] : []));
  const batch = input.batch ?? BATCH;
  const session = await createSession(args.fp32.bytes, { configEntries: args.fp32.sessionOptions });
  const observations: ModelObservation[] = [];
  try {
    for (let start = 0; start < split.count; start += batch) {
      const n = Math.min(batch, split.count - start);
      if (input.batch !== null && n !== input.batch) break; // a fixed batch cannot take the remainder
      const data = images.subarray(start * perImage, (start + n) * perImage);
      const out = await session.run({ [input.name]: imageTensor(data, [n, ...dims]) }, wanted);
      const scores = Float32Array.from(out[(probabilities ?? logits)?.name ?? '']?.data as Float32Array);
      const vectors = embedding ? Float32Array.from(out[embedding.name]?.data as Float32Array) : undefined;
      const width = vectors ? vectors.length / n : 0;
      for (let i = 0; i < n; i++) {
        const row = scores.subarray(i * classes, (i + 1) * classes);
        observations.push({
          input: data.subarray(i * perImage, (i + 1) * perImage),
          probabilities: probabilities ? row : softmax(row),
          ...(vectors ? { embedding: vectors.subarray(i * width, (i + 1) * width) } : {}),
        });
      }
    }
  } finally {
    await session.release();
  }
  return observations;
}

function softmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp((logits[i] as number) - max);
    sum += out[i] as number;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}
