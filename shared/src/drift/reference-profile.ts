// What "normal" looks like for one model version: the drift features of its validation set, in the
// same shape telemetry windows use. Recorded at registration; every drift evaluation of that
// version compares against it.
import * as z from 'zod';
import { isBase64 } from '../encoding.ts';
import { EdgeloopError } from '../errors.ts';
import type { PreprocessingSpec } from '../preprocessing.ts';
import { BinnedHistogram } from '../sketches/binned-histogram.ts';
import {
  type FeatureDefinition,
  FeatureExtractor,
  type FeatureSample,
  type ModelObservation,
} from '../sketches/features.ts';
import type { ProjectionSpec } from '../sketches/projection.ts';
import { QuantileSketch } from '../sketches/quantile-sketch.ts';
import {
  FINGERPRINT_PATTERN,
  featureNameSchema,
  type SketchSpec,
  sketchSpecFingerprint,
  sketchSpecSchema,
} from '../sketches/sketch-spec.ts';

/** Fewer validation samples than this make deciles too noisy to serve as bin edges. */
export const MIN_REFERENCE_SAMPLES = 100;
/** Seed and size of the embedding projection when the caller does not choose one. */
export const DEFAULT_PROJECTION: ProjectionSpec = { seed: 0x5eed, dims: 4 };

const finite = z.number().finite();

export const referenceFeatureSchema = z.object({
  name: featureNameSchema,
  kind: z.enum(['input', 'output', 'embedding']),
  description: z.string().max(200),
  /** Validation samples that had this feature. */
  count: z.number().int().positive(),
  /** Share of the reference in each bin of the spec's edges (edges + 1 entries). */
  proportions: z.array(z.number().min(0).max(1)).min(1).max(64),
  /** DDSketch of the reference values (`QuantileSketch.encode()`), for KS against quantile windows. */
  quantiles: z.string().max(65_536).refine(isBase64, 'must be base64'),
  mean: finite,
  std: finite.nonnegative(),
  min: finite,
  max: finite,
});
export type ReferenceFeature = z.infer<typeof referenceFeatureSchema>;

/**
 * A model version's reference profile (JSON, `v: 1`): the `SketchSpec` devices bin against, its
 * fingerprint, and per feature the reference bin proportions, a quantile sketch and a summary;
 * plus the predicted-class distribution and the sample size the tests need.
 *
 * @example
 * const profile = referenceProfileSchema.parse(JSON.parse(row.referenceProfile));
 * new DriftDetector(profile).observe(WindowSketch.fromWire(telemetry.sketches, profile.spec));
 */
export const referenceProfileSchema = z
  .object({
    v: z.literal(1),
    fingerprint: z.string().regex(FINGERPRINT_PATTERN),
    spec: sketchSpecSchema,
    sampleSize: z.number().int().min(MIN_REFERENCE_SAMPLES),
    features: z.array(referenceFeatureSchema).max(64),
    /** Share of validation samples predicted as each class. */
    classDistribution: z.array(z.number().min(0).max(1)),
  })
  .superRefine((p, ctx) => {
    if (sketchSpecFingerprint(p.spec) !== p.fingerprint) {
      ctx.addIssue({ code: 'custom', path: ['fingerprint'], message: 'fingerprint does not match spec' });
    }
    if (p.classDistribution.length !== p.spec.classes) {
      ctx.addIssue({ code: 'custom', path: ['classDistribution'], message: 'one share per class' });
    }
    if (p.features.length !== p.spec.features.length) {
      ctx.addIssue({ code: 'custom', path: ['features'], message: 'one feature per spec feature' });
    }
    p.features.forEach((f, i) => {
      const binned = p.spec.features[i];
      if (binned?.name !== f.name || binned.edges.length + 1 !== f.proportions.length) {
        ctx.addIssue({ code: 'custom', path: ['features', i], message: 'must match the spec feature' });
      }
    });
  });
export type ReferenceProfile = z.infer<typeof referenceProfileSchema>;

export interface ReferenceProfileOptions {
  classes: number;
  /** Number of bins per feature; edges at its quantiles (10: deciles). */
  bins?: number;
  /** Relative accuracy of the stored quantile sketches. */
  relativeAccuracy?: number;
  /** The projection embeddings went through (null: the model has no embedding output). */
  projection?: ProjectionSpec | null;
}

/**
 * Builds the profile from a validation set as the model saw it: each observation is one input
 * tensor with the model's probabilities (and embedding). Features the model lacks (no embedding)
 * are left out.
 *
 * @example
 * const profile = buildReferenceProfile({
 *   preprocessing: manifest.preprocessing, classes: 10, projection: { seed: 7, dims: 4 },
 *   observations: validation.map((input, i) => ({ input, probabilities: probs[i], embedding: emb[i] })),
 * });
 */
export function buildReferenceProfile(
  options: ReferenceProfileOptions & {
    preprocessing: PreprocessingSpec;
    observations: Iterable<ModelObservation>;
  },
): ReferenceProfile {
  const projection = options.projection === undefined ? DEFAULT_PROJECTION : options.projection;
  const extractor = new FeatureExtractor({
    preprocessing: options.preprocessing,
    classes: options.classes,
    ...(projection ? { projection } : {}),
  });
  const samples: FeatureSample[] = [];
  for (const observation of options.observations) samples.push(extractor.observe(observation));
  return referenceProfileFromSamples(samples, extractor.features, { ...options, projection });
}

/** The same from features already extracted (e.g. by a cloud job that batches its inference). */
export function referenceProfileFromSamples(
  samples: readonly FeatureSample[],
  catalogue: readonly FeatureDefinition[],
  options: ReferenceProfileOptions,
): ReferenceProfile {
  const bins = options.bins ?? 10;
  if (!Number.isInteger(bins) || bins < 2 || bins > 64) throw new RangeError('bins must be in 2..64');
  if (samples.length < MIN_REFERENCE_SAMPLES) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `a reference profile needs at least ${MIN_REFERENCE_SAMPLES} samples, got ${samples.length}`,
    );
  }
  const classCounts = new Array<number>(options.classes).fill(0);
  for (const s of samples) {
    if (!(s.predictedClass >= 0 && s.predictedClass < options.classes)) {
      throw new RangeError(`predicted class ${s.predictedClass} outside 0..${options.classes - 1}`);
    }
    classCounts[s.predictedClass] = (classCounts[s.predictedClass] as number) + 1;
  }
  const features: ReferenceFeature[] = [];
  const specFeatures: SketchSpec['features'] = [];
  for (const definition of catalogue) {
    const values = samples
      .map((s) => s.values[definition.name])
      .filter((v): v is number => v !== undefined && Number.isFinite(v))
      .sort((a, b) => a - b);
    if (values.length < MIN_REFERENCE_SAMPLES) continue; // e.g. no embeddings in this set
    const edges = quantileEdges(values, bins);
    specFeatures.push({ name: definition.name, edges });
    features.push(describe(definition, values, edges, options.relativeAccuracy));
  }
  const spec: SketchSpec = {
    v: 1,
    classes: options.classes,
    projection: features.some((f) => f.kind === 'embedding') ? (options.projection ?? null) : null,
    features: specFeatures,
  };
  return {
    v: 1,
    fingerprint: sketchSpecFingerprint(spec),
    spec,
    sampleSize: samples.length,
    features,
    classDistribution: classCounts.map((c) => c / samples.length),
  };
}

/** The values at ranks ⌊n·i/bins⌋, deduplicated: ties (confidence 1.0) merge bins instead of emptying them. */
function quantileEdges(sorted: readonly number[], bins: number): number[] {
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = sorted[Math.floor((sorted.length * i) / bins)] as number;
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  return edges;
}

function describe(
  definition: FeatureDefinition,
  sorted: readonly number[],
  edges: number[],
  relativeAccuracy: number | undefined,
): ReferenceFeature {
  const histogram = new BinnedHistogram(edges);
  const sketch = new QuantileSketch({ relativeAccuracy });
  let sum = 0;
  for (const v of sorted) {
    histogram.add(v);
    sketch.add(v);
    sum += v;
  }
  const mean = sum / sorted.length;
  const variance = sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / sorted.length;
  return {
    name: definition.name,
    kind: definition.kind,
    description: definition.description,
    count: sorted.length,
    proportions: histogram.proportions(),
    quantiles: sketch.encode(),
    mean,
    std: Math.sqrt(variance),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
  };
}
