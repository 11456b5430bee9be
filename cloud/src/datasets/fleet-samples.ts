import {
  buildDataset,
  concatSplits,
  type Dataset,
  emptySplit,
  gatherImages,
  imageSize,
  type LabelledImages,
  mulberry32,
  shuffleInPlace,
} from './dataset.ts';
import { DatasetError } from './errors.ts';

/** One labelled input that came back from a device (labels from operator feedback or the simulator). */
export interface FleetSample {
  deviceId: string;
  /** CHW floats in 0..1, in the base dataset's shape. */
  image: Float32Array;
  /** Class index into the base dataset's classes. */
  label: number;
  /** Telemetry window the sample was taken in, when known. */
  window?: number;
}

/**
 * Fleet samples as a dataset with the base dataset's classes and shape, every sample in train (they
 * are retraining material; held-out sets come from the base or from `mergeDatasets`). Samples are
 * put in a canonical order (device, then window, then arrival) so the same samples reported in a
 * different interleaving give the same version.
 */
export function datasetFromSamples(
  samples: FleetSample[],
  base: Dataset,
  opts: { name?: string } = {},
): Dataset {
  if (samples.length === 0) {
    throw new DatasetError('DATASET_EMPTY', 'no fleet samples to build a dataset from');
  }
  const size = imageSize(base.shape);
  samples.forEach((sample, i) => {
    validateSample(sample, i, size, base.classes.length);
  });
  const ordered = samples
    .map((sample, arrival) => ({ sample, arrival }))
    .sort(
      (a, b) =>
        compareText(a.sample.deviceId, b.sample.deviceId) ||
        (a.sample.window ?? -1) - (b.sample.window ?? -1) ||
        a.arrival - b.arrival,
    )
    .map((o) => o.sample);

  const images = new Float32Array(ordered.length * size);
  ordered.forEach((s, i) => {
    images.set(s.image, i * size);
  });
  const train: LabelledImages = {
    count: ordered.length,
    images,
    labels: Uint8Array.from(ordered, (s) => s.label),
  };
  const devices = [...new Set(ordered.map((s) => s.deviceId))];
  return buildDataset({
    name: opts.name ?? `${base.name}-fleet`,
    classes: base.classes,
    shape: base.shape,
    train,
    validation: emptySplit(),
    test: emptySplit(),
    source: { kind: 'fleet-samples', devices },
  });
}

export interface MergeOptions {
  /** Share of the extra images moved into validation instead of train, 0..1 (default 0). */
  validationShare?: number;
  /** Picks which extra images go to validation; default 42. */
  seed?: number;
  /** Default: the base's name — a merge is a new version of the same dataset. */
  name?: string;
}

/**
 * The base dataset plus every image of `extra` (all its splits): extra images go into train, or a
 * seeded `validationShare` of them into validation. The base test split is kept unchanged on purpose,
 * so a retrained challenger is evaluated on exactly the data its champion was.
 * Lineage: `source.parents` are the two versions, `source.devices` every contributing device.
 */
export function mergeDatasets(base: Dataset, extra: Dataset, opts: MergeOptions = {}): Dataset {
  assertCompatible(base, extra);
  const share = opts.validationShare ?? 0;
  if (!Number.isFinite(share) || share < 0 || share > 1) {
    throw new DatasetError('DATASET_INVALID_ARGUMENT', `validationShare must be in 0..1, got ${share}`);
  }
  const pool = concatSplits([extra.train, extra.validation, extra.test]);
  const order = shuffleInPlace(
    Uint32Array.from({ length: pool.count }, (_, i) => i),
    mulberry32(opts.seed ?? 42),
  );
  const toValidation = Math.round(pool.count * share);
  // Keep the extra images in their original relative order within each split: only membership is random.
  const validationIndices = order.subarray(0, toValidation).sort();
  const trainIndices = order.subarray(toValidation).sort();

  return buildDataset({
    name: opts.name ?? base.name,
    classes: base.classes,
    shape: base.shape,
    train: concatSplits([base.train, gatherImages(pool, trainIndices, base.shape)]),
    validation: concatSplits([base.validation, gatherImages(pool, validationIndices, base.shape)]),
    test: base.test,
    source: {
      kind: 'merged',
      parents: [base.version, extra.version],
      devices: [...new Set([...contributingDevices(base), ...contributingDevices(extra)])].sort(compareText),
    },
  });
}

/** Every fleet device whose samples are in the dataset, through any number of merges. */
export function contributingDevices(dataset: Dataset): string[] {
  const { source } = dataset;
  if (source.kind === 'fleet-samples') return source.devices;
  if (source.kind === 'merged') return source.devices ?? [];
  return [];
}

function validateSample(sample: FleetSample, index: number, size: number, classCount: number): void {
  const where = `fleet sample ${index} from device ${sample.deviceId}`;
  if (sample.image.length !== size) {
    throw new DatasetError(
      'DATASET_INVALID_SAMPLE',
      `${where} has ${sample.image.length} values, expected ${size}`,
    );
  }
  if (!Number.isInteger(sample.label) || sample.label < 0 || sample.label >= classCount) {
    throw new DatasetError(
      'DATASET_INVALID_SAMPLE',
      `${where} has label ${sample.label}, not one of ${classCount} classes`,
    );
  }
  for (const v of sample.image) {
    if (!(v >= 0 && v <= 1)) {
      throw new DatasetError('DATASET_INVALID_SAMPLE', `${where} has pixel value ${v} outside 0..1`);
    }
  }
}

function assertCompatible(base: Dataset, extra: Dataset): void {
  const sameShape =
    base.shape.channels === extra.shape.channels &&
    base.shape.height === extra.shape.height &&
    base.shape.width === extra.shape.width;
  const sameClasses =
    base.classes.length === extra.classes.length && base.classes.every((c, i) => c === extra.classes[i]);
  if (!sameShape || !sameClasses) {
    throw new DatasetError(
      'DATASET_INCOMPATIBLE',
      `cannot merge ${extra.name}@${extra.version} into ${base.name}@${base.version}: ` +
        (sameShape
          ? 'classes differ'
          : `shape ${JSON.stringify(extra.shape)} vs ${JSON.stringify(base.shape)}`),
    );
  }
}

// Locale-independent ordering so versions do not depend on the machine's locale.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
