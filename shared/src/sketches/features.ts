// Drift features of one inference: what the camera saw (image statistics of the model input), what
// the model made of it (confidence, entropy, predicted class) and where it landed in the model's
// embedding space (a fixed random projection). Each is one number per inference, so windows can
// summarise them as bin counts.
import type { PreprocessingSpec } from '../preprocessing.ts';
import { EmbeddingProjection, type ProjectionSpec } from './projection.ts';

export type FeatureKind = 'input' | 'output' | 'embedding';

export interface FeatureDefinition {
  name: string;
  kind: FeatureKind;
  description: string;
}

/** One model input (batch 1, in the spec's layout) and what the model returned for it. */
export interface ModelObservation {
  input: ArrayLike<number>;
  /** Softmax output, one value per class. */
  probabilities: ArrayLike<number>;
  /** The model's `embedding` output, when it has one and a projection is configured. */
  embedding?: ArrayLike<number>;
}

/** The drift features of one inference, by feature name, and the predicted class. */
export interface FeatureSample {
  values: Record<string, number>;
  predictedClass: number;
}

const CHANNEL_NAMES = ['r', 'g', 'b'] as const;
// Rec. 709 luma weights, applied to the encoded values: a cheap, monotone stand-in for brightness.
const LUMA = [0.2126, 0.7152, 0.0722] as const;

/**
 * The feature list for a model, in the order windows and profiles store them.
 *
 * @example
 * featureCatalogue({ channels: 1, projectionDims: 4 }).map((f) => f.name);
 * // ['brightness', 'contrast', 'sharpness', 'confidence', 'entropy',
 * //  'embedding.0', 'embedding.1', 'embedding.2', 'embedding.3']
 */
export function featureCatalogue(options: { channels: 1 | 3; projectionDims: number }): FeatureDefinition[] {
  const features: FeatureDefinition[] = [
    {
      name: 'brightness',
      kind: 'input',
      description: 'mean intensity of the model input, in scaled pixel units (0..1), luma for RGB',
    },
    { name: 'contrast', kind: 'input', description: 'standard deviation of the intensity' },
    {
      name: 'sharpness',
      kind: 'input',
      description: 'variance of the 3×3 Laplacian of the intensity; blur lowers it',
    },
  ];
  if (options.channels === 3) {
    for (const c of CHANNEL_NAMES) {
      features.push({
        name: `mean.${c}`,
        kind: 'input',
        description: `mean of the ${c} channel (colour cast)`,
      });
    }
  }
  features.push(
    { name: 'confidence', kind: 'output', description: 'top-1 probability (max softmax)' },
    { name: 'entropy', kind: 'output', description: 'entropy of the probabilities / log K, in 0..1' },
  );
  for (let i = 0; i < options.projectionDims; i++) {
    features.push({
      name: `embedding.${i}`,
      kind: 'embedding',
      description: `coordinate ${i} of the seeded sparse random projection of the embedding`,
    });
  }
  return features;
}

export interface FeatureExtractorOptions {
  preprocessing: PreprocessingSpec;
  /** Length of the probability vector. */
  classes: number;
  /** Project embeddings to drift features; omit for models without an embedding output. */
  projection?: ProjectionSpec;
}

/**
 * Computes drift features from the model input tensor (undoing the spec's normalisation, so
 * brightness is in pixel units whatever mean/std the model uses) and the model outputs.
 *
 * @example
 * const extract = new FeatureExtractor({ preprocessing: manifest.preprocessing, classes: 10,
 *   projection: profile.spec.projection });
 * const sample = extract.observe({ input, probabilities, embedding });
 * sample.values.sharpness; // variance of the Laplacian
 */
export class FeatureExtractor {
  readonly features: readonly FeatureDefinition[];
  private readonly spec: PreprocessingSpec;
  private readonly classes: number;
  private readonly intensity: Float64Array;
  private projection: EmbeddingProjection | undefined;

  constructor(private readonly options: FeatureExtractorOptions) {
    if (!Number.isInteger(options.classes) || options.classes < 2) throw new RangeError('need ≥ 2 classes');
    this.spec = options.preprocessing;
    this.classes = options.classes;
    this.intensity = new Float64Array(this.spec.height * this.spec.width);
    this.features = featureCatalogue({
      channels: this.spec.channels,
      projectionDims: options.projection?.dims ?? 0,
    });
  }

  /** All features of one inference. */
  observe(observation: ModelObservation): FeatureSample {
    const values: Record<string, number> = {};
    Object.assign(values, this.inputStatistics(observation.input));
    const output = outputStatistics(observation.probabilities);
    if (output.probabilities !== this.classes) {
      throw new RangeError(`expected ${this.classes} probabilities, got ${output.probabilities}`);
    }
    values.confidence = output.confidence;
    values.entropy = output.entropy;
    if (this.options.projection && observation.embedding) {
      const projected = this.project(observation.embedding);
      for (let i = 0; i < projected.length; i++) values[`embedding.${i}`] = projected[i] as number;
    }
    return { values, predictedClass: output.predictedClass };
  }

  /**
   * A batch as the model sees it: `input` holds `size` images back to back, `probabilities` and
   * `embeddings` one row per image.
   */
  observeBatch(batch: {
    size: number;
    input: Float32Array;
    probabilities: Float32Array;
    embeddings?: Float32Array;
  }): FeatureSample[] {
    const { size } = batch;
    const imageSize = this.spec.channels * this.spec.height * this.spec.width;
    if (batch.input.length !== size * imageSize || batch.probabilities.length !== size * this.classes) {
      throw new RangeError(`batch of ${size} does not match the input or probability lengths`);
    }
    const embeddingSize = batch.embeddings ? batch.embeddings.length / size : 0;
    if (!Number.isInteger(embeddingSize)) throw new RangeError('embeddings are not a whole number of rows');
    const out: FeatureSample[] = [];
    for (let i = 0; i < size; i++) {
      out.push(
        this.observe({
          input: batch.input.subarray(i * imageSize, (i + 1) * imageSize),
          probabilities: batch.probabilities.subarray(i * this.classes, (i + 1) * this.classes),
          embedding: batch.embeddings?.subarray(i * embeddingSize, (i + 1) * embeddingSize),
        }),
      );
    }
    return out;
  }

  /** Brightness, contrast, sharpness (and per-channel means for RGB) of one input tensor. */
  inputStatistics(input: ArrayLike<number>): Record<string, number> {
    const { channels: c, height: h, width: w, layout } = this.spec;
    const plane = h * w;
    if (input.length !== c * plane)
      throw new RangeError(`expected ${c * plane} input values, got ${input.length}`);
    const stats: Record<string, number> = {};
    this.intensity.fill(0);
    for (let ch = 0; ch < c; ch++) {
      const std = this.spec.std[this.spec.std.length === 1 ? 0 : ch] ?? 1;
      const mean = this.spec.mean[this.spec.mean.length === 1 ? 0 : ch] ?? 0;
      const weight = c === 1 ? 1 : (LUMA[ch] as number);
      let channelSum = 0;
      for (let p = 0; p < plane; p++) {
        let x = (input[layout === 'NCHW' ? ch * plane + p : p * c + ch] as number) * std + mean;
        if (this.spec.invert) x = 1 - x; // back to what the camera saw
        channelSum += x;
        this.intensity[p] = (this.intensity[p] as number) + weight * x;
      }
      if (c === 3) stats[`mean.${CHANNEL_NAMES[ch]}`] = channelSum / plane;
    }
    const { mean, variance } = meanAndVariance(this.intensity, plane);
    stats.brightness = mean;
    stats.contrast = Math.sqrt(variance);
    stats.sharpness = laplacianVariance(this.intensity, h, w);
    return stats;
  }

  /** The embedding's coordinates under the fixed projection (built on first use for its length). */
  project(embedding: ArrayLike<number>): Float64Array {
    const spec = this.options.projection;
    if (!spec) throw new RangeError('no projection configured');
    if (!this.projection || this.projection.inputSize !== embedding.length) {
      this.projection = new EmbeddingProjection(spec, embedding.length);
    }
    return this.projection.apply(embedding);
  }
}

/**
 * Confidence (max probability), entropy normalised by log K (0 = certain, 1 = uniform) and the
 * predicted class (first index of the max).
 *
 * @example
 * outputStatistics([0.5, 0.5]); // { confidence: 0.5, entropy: 1, predictedClass: 0, probabilities: 2 }
 */
export function outputStatistics(probabilities: ArrayLike<number>): {
  confidence: number;
  entropy: number;
  predictedClass: number;
  probabilities: number;
} {
  const k = probabilities.length;
  if (k < 2) throw new RangeError('need at least two probabilities');
  let best = 0;
  let entropy = 0;
  for (let i = 0; i < k; i++) {
    const p = probabilities[i] as number;
    if (p > (probabilities[best] as number)) best = i;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return {
    confidence: probabilities[best] as number,
    // Clamped: float32 softmax can sum to 1 ± 1e-7 and push the ratio a hair past 1.
    entropy: Math.min(1, Math.max(0, entropy / Math.log(k))),
    predictedClass: best,
    probabilities: k,
  };
}

function meanAndVariance(values: Float64Array, n: number): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i] as number;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += ((values[i] as number) - mean) ** 2;
  return { mean, variance: squares / n };
}

/** Variance of the 4-neighbour Laplacian over interior pixels; 0 when the image is thinner than 3. */
function laplacianVariance(plane: Float64Array, h: number, w: number): number {
  if (h < 3 || w < 3) return 0;
  let sum = 0;
  let squares = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const lap =
        (plane[i - w] as number) +
        (plane[i + w] as number) +
        (plane[i - 1] as number) +
        (plane[i + 1] as number) -
        4 * (plane[i] as number);
      sum += lap;
      squares += lap * lap;
    }
  }
  const n = (h - 2) * (w - 2);
  const mean = sum / n;
  return Math.max(0, squares / n - mean * mean);
}
