import { type ImageShape, imageSize, type LabelledImages } from './dataset.ts';
import { DatasetError } from './errors.ts';
import { gaussian, mulberry32, type Rng, shuffleInPlace } from './random.ts';

/**
 * Image corruptions for drift simulation and augmentation. Each takes one CHW image with values in
 * 0..1 and a severity in 0..1 and returns a new image, also in 0..1; severity 0 is the identity and
 * the effect grows with severity. Randomness comes only from the given rng, so a seed reproduces a
 * corrupted set exactly.
 */
export type Corruption = (image: Float32Array, shape: ImageShape, severity: number, rng: Rng) => Float32Array;

export const CORRUPTION_KINDS = ['brightness', 'contrast', 'blur', 'noise', 'rotation', 'occlusion'] as const;
export type CorruptionKind = (typeof CORRUPTION_KINDS)[number];

// Strength at severity 1. Chosen so severity 1 is clearly harmful but the digit is still there.
const MAX_BRIGHTNESS_SHIFT = 0.6;
const MIN_CONTRAST_FACTOR = 0.1;
/** Blur sigma at severity 1 as a fraction of the shorter side: 2 px on a 28 px digit. */
const MAX_BLUR_SIGMA_FRACTION = 1 / 14;
const MAX_NOISE_SIGMA = 0.4;
const MAX_ROTATION_DEGREES = 45;
const MAX_OCCLUDED_AREA = 0.5;
// Mid-grey stands out against both dark (MNIST) and bright backgrounds, unlike a black patch.
const OCCLUSION_VALUE = 0.5;

/** Lighting drift: adds a constant, so the mean rises with severity. */
export const brightness: Corruption = (image, _shape, severity) => {
  checkSeverity(severity);
  const shift = severity * MAX_BRIGHTNESS_SHIFT;
  return image.map((v) => clamp01(v + shift));
};

/** Washed-out exposure: pulls every channel towards its own mean, so the spread falls with severity. */
export const contrast: Corruption = (image, shape, severity) => {
  checkSeverity(severity);
  const factor = 1 - severity * (1 - MIN_CONTRAST_FACTOR);
  const plane = shape.height * shape.width;
  const out = new Float32Array(image.length);
  for (let c = 0; c < shape.channels; c++) {
    const channel = image.subarray(c * plane, (c + 1) * plane);
    const mean = channel.reduce((sum, v) => sum + v, 0) / plane;
    // A convex mix of two values in 0..1 stays in 0..1; clamp only guards float rounding.
    for (let p = 0; p < plane; p++)
      out[c * plane + p] = clamp01(mean + ((channel[p] as number) - mean) * factor);
  }
  return out;
};

/** Out-of-focus lens: separable gaussian blur with edge pixels repeated. */
export const blur: Corruption = (image, shape, severity) => {
  checkSeverity(severity);
  const sigma = severity * MAX_BLUR_SIGMA_FRACTION * Math.min(shape.height, shape.width);
  if (sigma === 0) return image.slice();
  const kernel = gaussianKernel(sigma);
  const { channels, height, width } = shape;
  const plane = height * width;
  const horizontal = new Float32Array(image.length);
  const out = new Float32Array(image.length);
  const radius = (kernel.length - 1) / 2;
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          sum +=
            (kernel[k + radius] as number) * (image[base + y * width + clampIndex(x + k, width)] as number);
        }
        horizontal[base + y * width + x] = sum;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          sum +=
            (kernel[k + radius] as number) *
            (horizontal[base + clampIndex(y + k, height) * width + x] as number);
        }
        out[base + y * width + x] = clamp01(sum);
      }
    }
  }
  return out;
};

/** Sensor noise: independent gaussian noise per value, clipped to 0..1. */
export const noise: Corruption = (image, _shape, severity, rng) => {
  checkSeverity(severity);
  const sigma = severity * MAX_NOISE_SIGMA;
  if (sigma === 0) return image.slice();
  return image.map((v) => clamp01(v + sigma * gaussian(rng)));
};

/**
 * Tilted camera: rotates about the centre by up to ±45° (direction drawn from the rng), sampling
 * bilinearly; pixels that come from outside the image are 0.
 */
export const rotation: Corruption = (image, shape, severity, rng) => {
  checkSeverity(severity);
  const direction = rng() < 0.5 ? -1 : 1;
  const angle = (direction * severity * MAX_ROTATION_DEGREES * Math.PI) / 180;
  if (angle === 0) return image.slice();
  const { channels, height, width } = shape;
  const plane = height * width;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const out = new Float32Array(image.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Inverse mapping: for each output pixel, where in the source does it come from?
      const sx = cos * (x - cx) + sin * (y - cy) + cx;
      const sy = -sin * (x - cx) + cos * (y - cy) + cy;
      for (let c = 0; c < channels; c++) {
        out[c * plane + y * width + x] = clamp01(
          bilinear(image.subarray(c * plane, (c + 1) * plane), width, height, sx, sy),
        );
      }
    }
  }
  return out;
};

/** Something in front of the lens: a grey rectangle covering up to half the image, placed by the rng. */
export const occlusion: Corruption = (image, shape, severity, rng) => {
  checkSeverity(severity);
  const { channels, height, width } = shape;
  const area = severity * MAX_OCCLUDED_AREA * height * width;
  const out = image.slice();
  if (area === 0) return out;
  const aspect = 2 ** (rng() * 2 - 1); // height/width in [0.5, 2]
  const h = Math.min(height, Math.max(1, Math.round(Math.sqrt(area * aspect))));
  const w = Math.min(width, Math.max(1, Math.round(area / h)));
  const top = Math.floor(rng() * (height - h + 1));
  const left = Math.floor(rng() * (width - w + 1));
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    for (let y = top; y < top + h; y++) {
      out.fill(OCCLUSION_VALUE, c * plane + y * width + left, c * plane + y * width + left + w);
    }
  }
  return out;
};

export const CORRUPTIONS: Record<CorruptionKind, Corruption> = {
  brightness,
  contrast,
  blur,
  noise,
  rotation,
  occlusion,
};

export interface CorruptImagesOptions {
  kind: CorruptionKind;
  severity: number;
  seed: number;
  /** Share of the images to corrupt, 0..1 (default 1); which ones is drawn from the seed. */
  fraction?: number;
}

/**
 * A corrupted copy of a split: the chosen share of its images transformed, the rest and all labels
 * unchanged. Same options, same output.
 *
 * @example
 * const foggy = corruptImages(digits.test, digits.shape, { kind: 'blur', severity: 0.5, seed: 7 });
 */
export function corruptImages(
  split: LabelledImages,
  shape: ImageShape,
  opts: CorruptImagesOptions,
): LabelledImages {
  // hasOwn, not a plain lookup: a kind like 'constructor' from untyped input must not resolve.
  if (!Object.hasOwn(CORRUPTIONS, opts.kind)) {
    throw new DatasetError('DATASET_INVALID_ARGUMENT', `unknown corruption kind ${String(opts.kind)}`);
  }
  const corruption = CORRUPTIONS[opts.kind];
  checkSeverity(opts.severity);
  const fraction = opts.fraction ?? 1;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new DatasetError(
      'DATASET_INVALID_ARGUMENT',
      `corruption fraction must be in 0..1, got ${fraction}`,
    );
  }
  const rng = mulberry32(opts.seed);
  const chosen = shuffleInPlace(
    Uint32Array.from({ length: split.count }, (_, i) => i),
    rng,
  )
    .subarray(0, Math.round(fraction * split.count))
    .sort();
  const size = imageSize(shape);
  const images = split.images.slice();
  for (const i of chosen) {
    images.set(
      corruption(split.images.subarray(i * size, (i + 1) * size), shape, opts.severity, rng),
      i * size,
    );
  }
  return { count: split.count, images, labels: split.labels.slice() };
}

function checkSeverity(severity: number): void {
  if (!(severity >= 0 && severity <= 1)) {
    throw new DatasetError(
      'DATASET_INVALID_ARGUMENT',
      `corruption severity must be in 0..1, got ${severity}`,
    );
  }
}

function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    const w = Math.exp(-(k * k) / (2 * sigma * sigma));
    kernel[k + radius] = w;
    sum += w;
  }
  return kernel.map((w) => w / sum);
}

function bilinear(plane: Float32Array, width: number, height: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xi: number, yi: number) =>
    xi < 0 || yi < 0 || xi >= width || yi >= height ? 0 : (plane[yi * width + xi] as number);
  return (
    (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
    fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  );
}

function clampIndex(i: number, length: number): number {
  return i < 0 ? 0 : i >= length ? length - 1 : i;
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
