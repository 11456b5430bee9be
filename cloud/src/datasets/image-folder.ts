import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { forEachConcurrently } from '../concurrency.ts';
import {
  buildDataset,
  type Dataset,
  gatherImages,
  type ImageShape,
  imageSize,
  MAX_CLASSES,
  mulberry32,
  splitPlanFromFractions,
  stratifiedSplit,
} from './dataset.ts';
import { DatasetError } from './errors.ts';

export interface ImageFolderOptions {
  /** Every image is resized (stretched, like torchvision's Resize((h, w))) to this size. */
  size: { height: number; width: number };
  channels: 1 | 3;
  /** Shuffles the split; default 42. */
  seed?: number;
  /** Held-out fractions; train takes the rest. Default 0.1 / 0.2, as for MNIST. */
  split?: { validation: number; test: number };
  /** Default: the folder's base name. */
  name?: string;
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
// sharp decodes on its own thread pool; a few files in flight keep it busy without holding a whole
// large folder's decoded pixels in memory at once.
const DECODE_CONCURRENCY = 4;

/**
 * A dataset from a folder of class-named subfolders of images (the ImageFolder convention):
 * `dir/cat/001.jpg`, `dir/dog/a.png`, … Classes are the subfolder names in sorted order; files
 * other than jpg/png/webp are ignored. Every image must decode: one bad file fails the whole load
 * with DATASET_UNREADABLE_IMAGE naming it, rather than silently training on less.
 *
 * @example
 * const pets = await loadImageFolder('/data/pets', { size: { height: 64, width: 64 }, channels: 3 });
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<Dataset> {
  const root = resolve(dir);
  const shape: ImageShape = { channels: options.channels, ...options.size };
  validateShape(shape);
  const listing = await listClasses(root);
  const files = listing.flatMap(({ files }, label) => files.map((file) => ({ file, label })));

  const size = imageSize(shape);
  const images = new Float32Array(files.length * size);
  const labels = Uint8Array.from(files, (f) => f.label);
  await forEachConcurrently(files, DECODE_CONCURRENCY, async ({ file }, i) => {
    images.set(await decodeImage(file, shape), i * size);
  });

  const classes = listing.map((c) => c.name);
  const plan = splitPlanFromFractions(files.length, options.split ?? { validation: 0.1, test: 0.2 });
  const split = stratifiedSplit(labels, classes.length, plan, mulberry32(options.seed ?? 42));
  const pool = { images, labels };
  return buildDataset({
    name: options.name ?? basename(root),
    classes,
    shape,
    train: gatherImages(pool, split.train, shape),
    validation: gatherImages(pool, split.validation, shape),
    test: gatherImages(pool, split.test, shape),
    source: { kind: 'image-folder', path: root },
  });
}

async function listClasses(root: string): Promise<{ name: string; files: string[] }[]> {
  let entries: Dirent[];
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
    entries = await readdir(root, { withFileTypes: true });
  } catch (cause) {
    throw new DatasetError(
      'DATASET_NOT_FOUND',
      `dataset folder ${root} does not exist or is not a directory`,
      {
        cause,
        path: root,
      },
    );
  }
  const classDirs = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (classDirs.length === 0) {
    throw new DatasetError('DATASET_EMPTY', `dataset folder ${root} has no class subfolders`, { path: root });
  }
  if (classDirs.length > MAX_CLASSES) {
    throw new DatasetError(
      'DATASET_TOO_MANY_CLASSES',
      `dataset folder ${root} has ${classDirs.length} class subfolders; at most ${MAX_CLASSES} are supported`,
      { path: root },
    );
  }
  const classes = await Promise.all(
    classDirs.map(async (name) => {
      const classDir = join(root, name);
      const files = (await readdir(classDir, { withFileTypes: true }))
        .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
        .map((e) => join(classDir, e.name))
        .sort();
      if (files.length === 0) {
        // An empty class would be a label the model can never learn; almost always a copy gone wrong.
        throw new DatasetError('DATASET_EMPTY', `class folder ${classDir} contains no jpg/png/webp images`, {
          path: classDir,
        });
      }
      return { name, files };
    }),
  );
  if (classes.length === 1) {
    throw new DatasetError(
      'DATASET_SINGLE_CLASS',
      `dataset folder ${root} has a single class (${classDirs[0]}); a classifier needs at least two class subfolders`,
      { path: root },
    );
  }
  return classes;
}

/** Decodes one file to CHW floats in 0..1 at the target shape. */
async function decodeImage(file: string, shape: ImageShape): Promise<Float32Array> {
  let pixels: Buffer;
  let channels: number;
  try {
    // Transparent regions become black, then the colour space is forced so the channel count is known.
    let pipeline = sharp(file, { failOn: 'error' })
      .flatten({ background: '#000000' })
      .resize(shape.width, shape.height, { fit: 'fill' });
    pipeline = shape.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    pixels = data;
    channels = info.channels;
    if (channels !== shape.channels)
      throw new Error(`decoded ${channels} channels, expected ${shape.channels}`);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new DatasetError('DATASET_UNREADABLE_IMAGE', `cannot decode image ${file}: ${reason}`, {
      cause,
      path: file,
    });
  }
  // sharp yields interleaved HWC bytes; models take planar CHW.
  const plane = shape.height * shape.width;
  const out = new Float32Array(shape.channels * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) out[c * plane + p] = (pixels[p * channels + c] as number) / 255;
  }
  return out;
}

function validateShape(shape: ImageShape): void {
  for (const key of ['height', 'width'] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1 || v > 4096) {
      throw new DatasetError(
        'DATASET_INVALID_ARGUMENT',
        `size.${key} must be an integer in 1..4096, got ${v}`,
      );
    }
  }
  if (shape.channels !== 1 && shape.channels !== 3) {
    throw new DatasetError('DATASET_INVALID_ARGUMENT', `channels must be 1 or 3, got ${shape.channels}`);
  }
}
