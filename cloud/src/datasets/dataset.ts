import { createHash } from 'node:crypto';
import { SPLIT_NAMES, type SplitName } from './split.ts';

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

export interface LabelledImages {
  count: number;
  /** count*C*H*W values, NCHW, each in 0..1. Treat as read-only: datasets are cached and shared. */
  images: Float32Array;
  /** One class index per image. */
  labels: Uint8Array;
}

export type DatasetSource =
  | { kind: 'mnist' }
  | { kind: 'image-folder'; path: string }
  | { kind: 'fleet-samples'; devices: string[] }
  // `devices` carries fleet lineage through merges: every device whose samples are in the data.
  | { kind: 'merged'; parents: string[]; devices?: string[] };

export interface Dataset {
  name: string;
  /** Content hash: first 16 hex chars of sha256 over classes, shape and every split's images and labels. */
  version: string;
  /** Index -> class name. */
  classes: string[];
  shape: ImageShape;
  train: LabelledImages;
  validation: LabelledImages;
  test: LabelledImages;
  source: DatasetSource;
}

/** Labels are stored as one byte, so a dataset holds at most 256 classes. */
export const MAX_CLASSES = 256;

export function imageSize(shape: ImageShape): number {
  return shape.channels * shape.height * shape.width;
}

/**
 * The dataset version: a hash of everything a model learns from (classes, shape, pixels, labels per
 * split) and nothing it does not (name, source), so the same data reached by two routes shares one
 * version and any changed pixel or moved image yields a new one.
 */
export function datasetVersion(parts: Pick<Dataset, 'classes' | 'shape' | SplitName>): string {
  return datasetDigest(parts).slice(0, 16);
}

/** The full sha256 (64 hex) behind `datasetVersion`: what a model's lineage records as its dataset hash. */
export function datasetDigest(parts: Pick<Dataset, 'classes' | 'shape' | SplitName>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ classes: parts.classes, shape: parts.shape }));
  for (const split of SPLIT_NAMES) {
    const { count, images, labels } = parts[split];
    // Length-prefix each split so bytes cannot slide from one split into the next unnoticed.
    const header = Buffer.alloc(4);
    header.writeUInt32LE(count);
    hash.update(header);
    hash.update(float32LittleEndian(images));
    hash.update(labels);
  }
  return hash.digest('hex');
}

/** Assembles a dataset and stamps its content version. */
export function buildDataset(parts: Omit<Dataset, 'version'>): Dataset {
  return { ...parts, version: datasetVersion(parts) };
}

/** The little-endian bytes of a float array: a view on little-endian hosts, a converted copy elsewhere. */
export function float32LittleEndian(values: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return bytes;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copies the chosen images (by index into a pool) into a new split, in the order given. */
export function gatherImages(
  pool: { images: Float32Array; labels: Uint8Array },
  indices: ArrayLike<number>,
  shape: ImageShape,
): LabelledImages {
  const size = imageSize(shape);
  const images = new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i] as number;
    images.set(pool.images.subarray(from * size, (from + 1) * size), i * size);
    labels[i] = pool.labels[from] as number;
  }
  return { count: indices.length, images, labels };
}

export function emptySplit(): LabelledImages {
  return { count: 0, images: new Float32Array(0), labels: new Uint8Array(0) };
}

/** Concatenates splits of the same shape, in order. */
export function concatSplits(splits: LabelledImages[]): LabelledImages {
  const count = splits.reduce((sum, s) => sum + s.count, 0);
  const images = new Float32Array(splits.reduce((sum, s) => sum + s.images.length, 0));
  const labels = new Uint8Array(count);
  let imageOffset = 0;
  let labelOffset = 0;
  for (const split of splits) {
    images.set(split.images, imageOffset);
    labels.set(split.labels, labelOffset);
    imageOffset += split.images.length;
    labelOffset += split.count;
  }
  return { count, images, labels };
}

export { gaussian, mulberry32, type Rng, shuffleInPlace } from './random.ts';
export {
  SPLIT_NAMES,
  type SplitName,
  type SplitPlan,
  splitPlanFromFractions,
  stratifiedSplit,
} from './split.ts';
