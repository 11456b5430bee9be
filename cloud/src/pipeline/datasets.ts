// Which data a pipeline job reads, named the way an API request or the CLI names it, and the checks
// a dataset must pass before hours of training are spent on it.
import type { PreprocessingSpec } from '@edgeloop/shared';
import { EdgeloopError } from '@edgeloop/shared';
import { z } from 'zod';
import { type Dataset, loadImageFolder, loadMnistDataset } from '../datasets/index.ts';
import type { ImageInput } from '../onnx/index.ts';
import { stage } from './errors.ts';

/** A dataset by reference: the bundled digits, or a folder of class-named subfolders on the cloud host. */
export const datasetRefSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('mnist'), seed: z.number().int().optional() }),
  z.strictObject({
    kind: z.literal('image-folder'),
    path: z.string().min(1).max(4096),
    /** Images are resized to this; default 28×28 greyscale, the built-in trainer's sweet spot. */
    height: z.number().int().min(4).max(1024).default(28),
    width: z.number().int().min(4).max(1024).default(28),
    channels: z.union([z.literal(1), z.literal(3)]).default(1),
    seed: z.number().int().optional(),
  }),
]);
export type DatasetRef = z.input<typeof datasetRefSchema>;

/** A reference, or a dataset already in memory (tests, the retraining loop's merged fleet data). */
export type DatasetInput = DatasetRef | Dataset;

function isDataset(input: DatasetInput): input is Dataset {
  return 'train' in input && 'classes' in input;
}

/** Loads the dataset a request names. Failures (missing folder, unreadable image) name the problem. */
export async function resolveDataset(input: DatasetInput, what = 'dataset'): Promise<Dataset> {
  if (isDataset(input)) return input;
  const parsed = datasetRefSchema.safeParse(input);
  if (!parsed.success) {
    throw new EdgeloopError('VALIDATION_FAILED', `${what}: ${z.prettifyError(parsed.error)}`, {
      details: parsed.error.issues,
    });
  }
  const ref = parsed.data;
  return stage(what, () =>
    ref.kind === 'mnist'
      ? loadMnistDataset(ref.seed === undefined ? {} : { seed: ref.seed })
      : loadImageFolder(ref.path, {
          size: { height: ref.height, width: ref.width },
          channels: ref.channels,
          ...(ref.seed === undefined ? {} : { seed: ref.seed }),
        }),
  );
}

/** How a dataset is recorded in lineage: enough to load it again. */
export function datasetSourceRef(dataset: Dataset): Record<string, unknown> {
  const { source, shape } = dataset;
  if (source.kind === 'image-folder')
    return {
      kind: 'image-folder',
      path: source.path,
      height: shape.height,
      width: shape.width,
      channels: shape.channels,
    };
  return { ...source };
}

/** The reference to reload a recorded source with, when it can be reloaded (mnist, a folder). */
export function reloadableRef(source: unknown): DatasetRef | undefined {
  const parsed = datasetRefSchema.safeParse(source);
  return parsed.success ? parsed.data : undefined;
}

function distinctLabels(labels: Uint8Array): number {
  return new Set(labels).size;
}

/** What training needs: two classes with images, and held-out images to calibrate and test on. */
export function checkTrainable(dataset: Dataset): void {
  const fail = (reason: string, message: string) => {
    throw new EdgeloopError('VALIDATION_FAILED', `dataset ${dataset.name}: ${message}`, {
      details: { reason },
    });
  };
  if (dataset.classes.length < 2 || distinctLabels(dataset.train.labels) < 2)
    fail('DATASET_SINGLE_CLASS', 'training needs images of at least two classes');
  if (dataset.validation.count === 0)
    fail('DATASET_EMPTY', 'the validation split is empty (quantization calibrates on it)');
  if (dataset.test.count === 0) fail('DATASET_EMPTY', 'the test split is empty (evaluation runs on it)');
}

/**
 * The preprocessing that reproduces the dataset's tensors from camera pixels: datasets hold 0..1
 * values (pixels / 255), stretched to the model's size, greyscale or RGB as the model reads them.
 */
export function preprocessingFor(dataset: Dataset, input: ImageInput): PreprocessingSpec {
  return {
    layout: input.layout,
    channels: dataset.shape.channels === 3 ? 3 : 1,
    height: dataset.shape.height,
    width: dataset.shape.width,
    resize: 'stretch',
    padValue: 0,
    scale: 1 / 255,
    mean: [0],
    std: [1],
    invert: false,
  };
}

/** Refuses data whose images are not shaped like the model's input, naming both shapes. */
export function checkShapeMatches(
  dataset: Dataset,
  input: ImageInput,
  what: string,
  reason = 'DATASET_SHAPE_MISMATCH',
): void {
  const { channels, height, width } = dataset.shape;
  if (channels !== input.channels || height !== input.height || width !== input.width) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `${what} images are ${channels}×${height}×${width} (C×H×W) but the model input '${input.name}' expects ${input.channels}×${input.height}×${input.width}`,
      { details: { reason } },
    );
  }
}
