import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  type Dataset,
  datasetVersion,
  float32LittleEndian,
  imageSize,
  type LabelledImages,
  MAX_CLASSES,
  SPLIT_NAMES,
  type SplitName,
} from './dataset.ts';
import { DatasetError } from './errors.ts';

export const DATASET_FORMAT = 'edgeloop.dataset/v1';
const MANIFEST = 'dataset.json';

// A bare file name: the manifest must not point a reader outside its own directory.
const fileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
const splitEntry = z.object({ count: z.number().int().nonnegative(), images: fileName, labels: fileName });

const manifestSchema = z.object({
  format: z.literal(DATASET_FORMAT),
  name: z.string().min(1),
  version: z.string().regex(/^[0-9a-f]{16}$/),
  classes: z.array(z.string()).min(1).max(MAX_CLASSES),
  shape: z.object({
    channels: z.number().int().positive(),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
  }),
  splits: z.object({ train: splitEntry, validation: splitEntry, test: splitEntry }),
  source: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('mnist') }),
    z.object({ kind: z.literal('image-folder'), path: z.string() }),
    z.object({ kind: z.literal('fleet-samples'), devices: z.array(z.string()) }),
    z.object({
      kind: z.literal('merged'),
      parents: z.array(z.string()),
      devices: z.array(z.string()).optional(),
    }),
  ]),
});

export type DatasetManifest = z.infer<typeof manifestSchema>;

/**
 * Writes the dataset as `dataset.json` plus raw `{split}.images.f32` (little-endian float32 NCHW) and
 * `{split}.labels.u8` files, for external trainers and caching. The manifest is written last, by
 * rename, so a reader never sees a manifest whose data files are still being written.
 */
export async function writeDatasetDir(dataset: Dataset, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const splits = {} as DatasetManifest['splits'];
  for (const split of SPLIT_NAMES) {
    const entry = {
      count: dataset[split].count,
      images: `${split}.images.f32`,
      labels: `${split}.labels.u8`,
    };
    await writeFile(join(dir, entry.images), float32LittleEndian(dataset[split].images));
    await writeFile(join(dir, entry.labels), dataset[split].labels);
    splits[split] = entry;
  }
  const manifest: DatasetManifest = {
    format: DATASET_FORMAT,
    name: dataset.name,
    version: dataset.version,
    classes: dataset.classes,
    shape: dataset.shape,
    splits,
    source: dataset.source,
  };
  const temporary = join(dir, `.${MANIFEST}.${process.pid}.tmp`);
  await writeFile(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(temporary, join(dir, MANIFEST));
}

/**
 * Reads a directory written by `writeDatasetDir` (or by any tool following the same format) and
 * checks it end to end: the manifest against its schema, every file's size against its count, every
 * label against the classes, and the content hash against the recorded version.
 */
export async function readDatasetDir(dir: string): Promise<Dataset> {
  const manifestPath = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (cause) {
    throw new DatasetError('DATASET_NOT_FOUND', `no dataset at ${dir}: cannot read ${manifestPath}`, {
      cause,
      path: manifestPath,
    });
  }
  const manifest = parseManifest(text, manifestPath);
  const splits = {} as Record<SplitName, LabelledImages>;
  for (const split of SPLIT_NAMES) splits[split] = await readSplit(dir, manifest, split);

  const dataset: Dataset = {
    name: manifest.name,
    version: manifest.version,
    classes: manifest.classes,
    shape: manifest.shape,
    ...splits,
    source: manifest.source,
  };
  const actual = datasetVersion(dataset);
  if (actual !== manifest.version) {
    throw new DatasetError(
      'DATASET_CORRUPT',
      `${manifestPath} records version ${manifest.version} but the data files hash to ${actual}`,
      { path: manifestPath },
    );
  }
  return dataset;
}

function parseManifest(text: string, manifestPath: string): DatasetManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DatasetError('DATASET_CORRUPT', `${manifestPath} is not valid JSON`, {
      cause,
      path: manifestPath,
    });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new DatasetError('DATASET_CORRUPT', `${manifestPath} is not a valid dataset manifest: ${issues}`, {
      cause: parsed.error,
      path: manifestPath,
    });
  }
  return parsed.data;
}

async function readSplit(dir: string, manifest: DatasetManifest, split: SplitName): Promise<LabelledImages> {
  const entry = manifest.splits[split];
  const imagesPath = join(dir, entry.images);
  const labelsPath = join(dir, entry.labels);
  const imageBytes = await readDataFile(imagesPath);
  const labels = new Uint8Array(await readDataFile(labelsPath));

  const expectedBytes = entry.count * imageSize(manifest.shape) * 4;
  if (imageBytes.byteLength !== expectedBytes) {
    throw new DatasetError(
      'DATASET_CORRUPT',
      `${imagesPath} has ${imageBytes.byteLength} bytes, expected ${expectedBytes} for ${entry.count} images`,
      { path: imagesPath },
    );
  }
  if (labels.length !== entry.count) {
    throw new DatasetError(
      'DATASET_CORRUPT',
      `${labelsPath} has ${labels.length} labels, expected ${entry.count}`,
      { path: labelsPath },
    );
  }
  const badLabel = labels.findIndex((label) => label >= manifest.classes.length);
  if (badLabel >= 0) {
    throw new DatasetError(
      'DATASET_CORRUPT',
      `${labelsPath} label ${labels[badLabel]} at index ${badLabel} is outside the ${manifest.classes.length} classes`,
      { path: labelsPath },
    );
  }
  return { count: entry.count, images: float32FromLittleEndian(imageBytes, imagesPath), labels };
}

async function readDataFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new DatasetError('DATASET_CORRUPT', `dataset file ${path} is missing or unreadable`, {
      cause,
      path,
    });
  }
}

// Also checks the range: files from other tools may hold 0..255 bytes-as-floats or NaNs.
function float32FromLittleEndian(bytes: Buffer, path: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!(v >= 0 && v <= 1)) {
      throw new DatasetError('DATASET_CORRUPT', `${path} value ${v} at index ${i} is outside 0..1`, { path });
    }
    out[i] = v;
  }
  return out;
}
