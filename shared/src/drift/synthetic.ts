// A synthetic camera and model for the drift tests and benchmarks: digit-like stroke images and a
// fixed random two-layer network, all from one seed, so a statistical test sees a real feature
// pipeline (tensor → features → window) and still runs in milliseconds without a dataset or ONNX.
// Not exported from the package.
import { preprocessingSpecSchema } from '../preprocessing.ts';
import { FeatureExtractor, type ModelObservation } from '../sketches/features.ts';
import { seededUniform } from '../sketches/random.ts';
import { buildReferenceProfile } from './reference-profile.ts';

const SIZE = 28;
const POOLED = 7; // 4×4 average pooling → 7×7 inputs to the toy network
const HIDDEN = 16;
const CLASSES = 10;

/** The digits model's preprocessing (MNIST mean/std, NCHW, grey 28×28). */
export const SYNTHETIC_PREPROCESSING = preprocessingSpecSchema.parse({
  layout: 'NCHW',
  channels: 1,
  height: SIZE,
  width: SIZE,
  mean: [0.1307],
  std: [0.3081],
});
export const SYNTHETIC_CLASSES = CLASSES;

/** Camera corruptions, applied to the 0..1 image before normalisation. */
export interface Corruption {
  /** Added to every pixel (no clipping, so the brightness shift is exact). */
  brightnessShift?: number;
  /** Multiplies every pixel: < 1 is a darker scene. */
  gain?: number;
  /** Passes of a 3×3 box blur. */
  blurPasses?: number;
}

const BANK = 1024; // distinct strokes; images combine 1–3 of them, so repeats are negligible

export class SyntheticCamera {
  private readonly random: () => number;
  private readonly w1: Float64Array;
  private readonly w2: Float64Array;
  /** Pre-rendered strokes, SIZE² each: drawing them per image made the 1,000-window test slow. */
  private readonly strokes: Float32Array;

  /**
   * `worldSeed` fixes the strokes and the network (what the reference was built on); `streamSeed`
   * picks the images, so two streams differ but come from one distribution.
   */
  constructor(streamSeed: number, worldSeed = 1) {
    this.random = seededUniform(streamSeed);
    const world = seededUniform(worldSeed);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - world())) * Math.cos(2 * Math.PI * world());
    this.w1 = Float64Array.from({ length: HIDDEN * POOLED * POOLED }, () => gaussian() * 0.6);
    this.w2 = Float64Array.from({ length: CLASSES * HIDDEN }, () => gaussian() * 1.5);
    this.strokes = new Float32Array(BANK * SIZE * SIZE);
    for (let k = 0; k < BANK; k++) {
      const segment = Float64Array.from({ length: 4 }, () => 6 + 16 * world());
      const width = 0.8 + 0.8 * world();
      const spread = 2 * width * width;
      for (let p = 0; p < SIZE * SIZE; p++) {
        const d = squaredDistanceToSegment(p % SIZE, Math.floor(p / SIZE), segment, 0);
        this.strokes[k * SIZE * SIZE + p] = Math.exp(-d / spread);
      }
    }
  }

  /** One image as a 0..1 grey plane: 1–3 soft strokes at a random ink level on black. */
  image(corruption: Corruption = {}): Float64Array {
    const r = this.random;
    const count = 1 + Math.floor(r() * 3);
    const ink = 0.6 + 0.4 * r();
    let img: Float64Array = new Float64Array(SIZE * SIZE);
    for (let s = 0; s < count; s++) {
      const offset = Math.floor(r() * BANK) * SIZE * SIZE;
      for (let p = 0; p < img.length; p++)
        img[p] = Math.max(img[p] as number, this.strokes[offset + p] as number);
    }
    for (let p = 0; p < img.length; p++) img[p] = (img[p] as number) * ink;
    for (let i = 0; i < (corruption.blurPasses ?? 0); i++) img = boxBlur(img);
    const gain = corruption.gain ?? 1;
    const shift = corruption.brightnessShift ?? 0;
    if (gain !== 1 || shift !== 0)
      for (let i = 0; i < img.length; i++) img[i] = (img[i] as number) * gain + shift;
    return img;
  }

  /** An image through preprocessing and the toy network, as an agent would observe it. */
  observe(corruption: Corruption = {}): ModelObservation {
    const img = this.image(corruption);
    const { mean, std } = SYNTHETIC_PREPROCESSING;
    const input = new Float32Array(img.length);
    for (let i = 0; i < img.length; i++)
      input[i] = ((img[i] as number) - (mean[0] as number)) / (std[0] as number);
    const pooled = new Float64Array(POOLED * POOLED);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const p = Math.floor(y / 4) * POOLED + Math.floor(x / 4);
        pooled[p] = (pooled[p] as number) + (img[y * SIZE + x] as number) / 16;
      }
    }
    const embedding = new Float32Array(HIDDEN);
    for (let h = 0; h < HIDDEN; h++) {
      let s = 0;
      for (let i = 0; i < pooled.length; i++)
        s += (this.w1[h * pooled.length + i] as number) * (pooled[i] as number);
      embedding[h] = Math.max(0, s);
    }
    const logits = new Float64Array(CLASSES);
    for (let c = 0; c < CLASSES; c++) {
      let s = 0;
      for (let h = 0; h < HIDDEN; h++) s += (this.w2[c * HIDDEN + h] as number) * (embedding[h] as number);
      logits[c] = s;
    }
    let top = Number.NEGATIVE_INFINITY;
    for (const l of logits) top = Math.max(top, l);
    const probabilities = new Float32Array(CLASSES);
    let sum = 0;
    for (let c = 0; c < CLASSES; c++) sum += Math.exp((logits[c] as number) - top);
    for (let c = 0; c < CLASSES; c++) probabilities[c] = Math.exp((logits[c] as number) - top) / sum;
    return { input, probabilities, embedding };
  }
}

function squaredDistanceToSegment(px: number, py: number, segments: Float64Array, at: number): number {
  const x0 = segments[at] as number;
  const y0 = segments[at + 1] as number;
  const x1 = segments[at + 2] as number;
  const y1 = segments[at + 3] as number;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.min(1, Math.max(0, ((px - x0) * dx + (py - y0) * dy) / len));
  const ex = x0 + t * dx - px;
  const ey = y0 + t * dy - py;
  return ex * ex + ey * ey;
}

function boxBlur(img: Float64Array): Float64Array {
  const out = new Float64Array(img.length);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= SIZE || xx < 0 || xx >= SIZE) continue;
          sum += img[yy * SIZE + xx] as number;
          n++;
        }
      }
      out[y * SIZE + x] = sum / n;
    }
  }
  return out;
}

/**
 * The tests' usual setting: a reference profile of `samples` observations from camera `seed`, and
 * the feature extractor devices would use with it (same projection).
 */
export function syntheticReference(options: { seed?: number; samples?: number } = {}) {
  const projection = { seed: 7, dims: 4 };
  const camera = new SyntheticCamera(options.seed ?? 1);
  const profile = buildReferenceProfile({
    preprocessing: SYNTHETIC_PREPROCESSING,
    classes: SYNTHETIC_CLASSES,
    projection,
    observations: Array.from({ length: options.samples ?? 2000 }, () => camera.observe()),
  });
  const extractor = new FeatureExtractor({
    preprocessing: SYNTHETIC_PREPROCESSING,
    classes: SYNTHETIC_CLASSES,
    projection,
  });
  return { profile, extractor, projection };
}
