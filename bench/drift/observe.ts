// What a device computes per inference, done in bulk: the model's probabilities and embedding for
// each image, through the shared FeatureExtractor (the agent's and the SDK's code path), so windows
// built here are byte-for-byte the sketches devices send.
import {
  type CorruptionKind,
  corruptImages,
  type Dataset,
  imageTensor,
  type LabelledImages,
  mulberry32,
} from '@edgeloop/cloud';
import { FeatureExtractor, type FeatureSample, type ModelManifest, WindowSketch } from '@edgeloop/shared';
import type { WatchedModel } from './model.ts';

const BATCH = 32;

export interface ObservedImages {
  samples: FeatureSample[];
  /** Top-1 correct per image. */
  correct: boolean[];
}

export function extractorFor(manifest: ModelManifest): FeatureExtractor {
  const projection = manifest.sketchSpec?.projection;
  return new FeatureExtractor({
    preprocessing: manifest.preprocessing,
    classes: manifest.classes.length,
    ...(projection ? { projection } : {}),
  });
}

/** Runs the model over `split` (NCHW, as the digits CNN takes it) and extracts each image's features. */
export async function observeSplit(model: WatchedModel, split: LabelledImages): Promise<ObservedImages> {
  const { manifest, session, dataset } = model;
  const extractor = extractorFor(manifest);
  const perImage = dataset.shape.channels * dataset.shape.height * dataset.shape.width;
  const probabilities = manifest.outputs.find((o) => o.role === 'probabilities');
  const embedding = manifest.outputs.find((o) => o.role === 'embedding');
  if (!probabilities) throw new Error('the digits model has no probabilities output');
  const wanted = [probabilities.name, ...(embedding ? [embedding.name] : [])];
  const samples: FeatureSample[] = [];
  const correct: boolean[] = [];
  for (let start = 0; start < split.count; start += BATCH) {
    const n = Math.min(BATCH, split.count - start);
    const input = split.images.subarray(start * perImage, (start + n) * perImage);
    const out = await session.run(
      {
        [manifest.input.name]: imageTensor(input, [
          n,
          dataset.shape.channels,
          dataset.shape.height,
          dataset.shape.width,
        ]),
      },
      wanted,
    );
    const probs = out[probabilities.name]?.data as Float32Array;
    const vectors = embedding ? (out[embedding.name]?.data as Float32Array) : undefined;
    const classes = probs.length / n;
    const width = vectors ? vectors.length / n : 0;
    for (let i = 0; i < n; i++) {
      const sample = extractor.observe({
        input: input.subarray(i * perImage, (i + 1) * perImage),
        probabilities: probs.subarray(i * classes, (i + 1) * classes),
        ...(vectors ? { embedding: vectors.subarray(i * width, (i + 1) * width) } : {}),
      });
      samples.push(sample);
      correct.push(sample.predictedClass === split.labels[start + i]);
    }
  }
  return { samples, correct };
}

export function corruptedSplit(
  dataset: Dataset,
  kind: CorruptionKind,
  severity: number,
  seed: number,
): LabelledImages {
  return corruptImages(dataset.test, dataset.shape, { kind, severity, seed });
}

/** A seeded stream of windows drawn with replacement from observed images. */
export class WindowStream {
  readonly #random: () => number;

  constructor(
    private readonly observed: ObservedImages,
    private readonly model: WatchedModel,
    seed: number,
  ) {
    this.#random = mulberry32(seed);
  }

  next(size: number): WindowSketch {
    const window = new WindowSketch({ spec: this.model.profile.spec });
    const { samples } = this.observed;
    for (let i = 0; i < size; i++) {
      window.add(samples[Math.floor(this.#random() * samples.length)] as FeatureSample);
    }
    return window;
  }
}
