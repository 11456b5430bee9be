// Fixtures for retraining tests: fleet samples written straight into `fleet_samples`, as the samples
// consumer and the labelling API would, from MNIST digits (optionally corrupted or mislabelled).
import { corruptImages, type LabelledImages, loadMnistDataset, mulberry32 } from '../datasets/index.ts';
import type { Db } from '../db/database.ts';
import { fleetSamples } from '../db/schema.ts';

const SHAPE = { channels: 1, height: 28, width: 28 };
const SIZE = 28 * 28;

/**
 * `count` MNIST train digits from `offset` on (past the first few hundred, which the test champion
 * trains on), darker and blurred when `corrupt` — a camera whose light faded and lens fogged.
 */
export function fieldDigits(options: { offset: number; count: number; corrupt: boolean }): LabelledImages {
  const { train } = loadMnistDataset();
  let split: LabelledImages = {
    count: options.count,
    images: train.images.slice(options.offset * SIZE, (options.offset + options.count) * SIZE),
    labels: train.labels.slice(options.offset, options.offset + options.count),
  };
  if (options.corrupt) {
    // Contrast pulls the bright strokes towards MNIST's dark mean: a darker digit, then out of focus.
    split = corruptImages(split, SHAPE, { kind: 'contrast', severity: 0.75, seed: 11 });
    split = corruptImages(split, SHAPE, { kind: 'blur', severity: 0.7, seed: 12 });
  }
  return split;
}

/** Labels replaced by random classes (a careless labeller): the images say one thing, the labels another. */
export function scrambleLabels(split: LabelledImages, seed: number): LabelledImages {
  const rng = mulberry32(seed);
  return { ...split, labels: Uint8Array.from(split.labels, () => Math.floor(rng() * 10)) };
}

export function tensorBytes(image: Float32Array): Uint8Array {
  const bytes = new Uint8Array(image.length * 4);
  const view = new DataView(bytes.buffer);
  image.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return bytes;
}

/** Writes each digit as a labelled sample of `model`, spread over `devices` devices and windows. */
export async function insertSamples(
  db: Db,
  split: LabelledImages,
  options: { model: string; version: number; devices?: number; prefix?: string; capturedAt?: Date },
): Promise<void> {
  const devices = options.devices ?? 4;
  const at = options.capturedAt ?? new Date();
  const rows = Array.from({ length: split.count }, (_, i) => ({
    deviceId: `cam-${i % devices}`,
    sampleId: `${options.prefix ?? options.model}-${i}`,
    modelName: options.model,
    modelVersion: options.version,
    capturedAt: new Date(at.getTime() - i * 1000),
    windowSeq: Math.floor(i / (devices * 5)),
    reason: 'random' as const,
    predictedClass: 0,
    confidence: 0.5,
    shape: [1, 1, 28, 28],
    tensor: tensorBytes(split.images.subarray(i * SIZE, (i + 1) * SIZE)),
    label: split.labels[i] as number,
    labelSource: 'device' as const,
  }));
  for (let i = 0; i < rows.length; i += 200) await db.insert(fleetSamples).values(rows.slice(i, i + 200));
}
