// The data of a retraining run: the champion's original training data plus the train part of the
// recent labelled edge samples, and the held-out rest of those samples as the edge test set. The
// base test split is kept unchanged (mergeDatasets does), so champion and challenger are judged on
// exactly the data the champion was. Lineage records which devices and windows contributed.
import { EdgeloopError } from '@edgeloop/shared';
import {
  type Dataset,
  datasetDigest,
  datasetFromSamples,
  type LabelledImages,
  mergeDatasets,
  mulberry32,
  shuffleInPlace,
} from '../datasets/index.ts';
import { type DatasetRef, datasetRefSchema } from '../pipeline/index.ts';
import type { ModelRegistry, VersionRecord } from '../registry/index.ts';
import type { EdgeSample, LoadedSamples } from './fleet-samples.ts';

/** Loads a dataset a lineage names (the pipeline's `resolveDataset` in production). */
export type DatasetLoader = (ref: DatasetRef) => Promise<Dataset>;

/** Share of the edge training samples that go to validation, so int8 calibration sees field data. */
const EDGE_VALIDATION_SHARE = 0.1;
/** Longest lineage chain followed back to the original data. */
const MAX_ANCESTORS = 100;

export interface OriginalData {
  dataset: Dataset;
  /** The version whose lineage names the data (the champion, or an ancestor it was retrained from). */
  version: number;
  ref: DatasetRef;
}

/**
 * The data the model line was originally trained on: the champion's dataset when it can be loaded
 * again, else (a retrained champion, whose data was a merge) its parent's, and so on. The loaded
 * data must hash as the lineage recorded, or the comparison would not be with the original test set.
 */
export async function originalTrainingData(
  registry: Pick<ModelRegistry, 'getVersion'>,
  champion: VersionRecord,
  load: DatasetLoader,
): Promise<OriginalData> {
  let version = champion;
  for (let step = 0; step < MAX_ANCESTORS; step++) {
    const ref = datasetRefSchema.safeParse(version.lineage.dataset?.source);
    if (ref.success) {
      const dataset = await load(ref.data);
      const digest = datasetDigest(dataset);
      if (version.lineage.datasetHash !== undefined && version.lineage.datasetHash !== digest) {
        throw new EdgeloopError(
          'VALIDATION_FAILED',
          `the training data of ${version.model} v${version.version} (${JSON.stringify(ref.data)}) has changed since it was trained (hash ${digest.slice(0, 16)}, lineage ${version.lineage.datasetHash.slice(0, 16)})`,
          { details: { reason: 'BASE_DATASET_CHANGED' } },
        );
      }
      return { dataset, version: version.version, ref: ref.data };
    }
    const parent = version.lineage.parentVersion;
    if (parent === undefined) break;
    version = await registry.getVersion(champion.model, parent);
  }
  throw new EdgeloopError(
    'VALIDATION_FAILED',
    `${champion.model} v${champion.version} has no original training data that can be loaded again (an imported model, or data that was in memory only)`,
    { details: { reason: 'BASE_DATASET_UNAVAILABLE' } },
  );
}

export interface RetrainData {
  /** Original data + edge train samples; the original test split unchanged. */
  dataset: Dataset;
  /** Recent labelled samples kept out of training. */
  edgeTest: LabelledImages;
  lineage: Record<string, unknown>;
}

/** Splits the samples into train and holdout (seeded) and merges the train part into the original data. */
export function assembleRetrainData(args: {
  original: OriginalData;
  loaded: LoadedSamples;
  holdoutFraction: number;
  seed: number;
}): RetrainData {
  const { original, loaded } = args;
  const base = original.dataset;
  // Canonical order first: the same samples give the same split whatever order the query returned.
  const samples = [...loaded.samples].sort(
    (a, b) => compare(a.deviceId, b.deviceId) || compare(a.sampleId, b.sampleId),
  );
  if (samples.length < 2) {
    throw new EdgeloopError('VALIDATION_FAILED', `only ${samples.length} usable labelled samples`, {
      details: { reason: 'TOO_FEW_SAMPLES' },
    });
  }
  const order = shuffleInPlace(
    Uint32Array.from(samples, (_, i) => i),
    mulberry32(args.seed),
  );
  const holdoutCount = Math.min(
    samples.length - 1,
    Math.max(1, Math.round(samples.length * args.holdoutFraction)),
  );
  const holdout = [...order.subarray(0, holdoutCount)].sort((a, b) => a - b).map((i) => samples[i]!);
  const train = [...order.subarray(holdoutCount)].sort((a, b) => a - b).map((i) => samples[i]!);

  const edgeTrain = datasetFromSamples(train, base, { name: `${base.name}-edge` });
  const edgeTest = datasetFromSamples(holdout, base, { name: `${base.name}-edge-holdout` }).train;
  const dataset = mergeDatasets(base, edgeTrain, {
    validationShare: EDGE_VALIDATION_SHARE,
    seed: args.seed,
    name: base.name,
  });
  return {
    dataset,
    edgeTest,
    lineage: {
      baseDataset: {
        name: base.name,
        version: base.version,
        source: original.ref,
        fromModelVersion: original.version,
        test: base.test.count,
      },
      dataset: { name: dataset.name, version: dataset.version, train: dataset.train.count },
      samples: {
        usable: samples.length,
        train: train.length,
        holdout: holdout.length,
        skipped: loaded.skipped,
        ...(loaded.examples.length > 0 ? { skippedExamples: loaded.examples } : {}),
        devices: [...new Set(samples.map((s) => s.deviceId))],
        windows: windowsByDevice(samples),
        modelVersions: [...new Set(samples.map((s) => s.modelVersion))].sort((a, b) => a - b),
        labelSources: countBy(samples.map((s) => s.labelSource ?? 'unknown')),
        capturedFrom: minDate(samples)?.toISOString() ?? null,
        capturedTo: maxDate(samples)?.toISOString() ?? null,
      },
    },
  };
}

/** Per device, the telemetry windows its samples came from, as ranges: `{ "cam-1": "3-7,9" }`. */
export function windowsByDevice(samples: readonly EdgeSample[]): Record<string, string> {
  const byDevice = new Map<string, Set<number>>();
  for (const s of samples) {
    if (s.window === undefined) continue;
    const set = byDevice.get(s.deviceId) ?? new Set<number>();
    set.add(s.window);
    byDevice.set(s.deviceId, set);
  }
  return Object.fromEntries(
    [...byDevice].sort(([a], [b]) => compare(a, b)).map(([device, set]) => [device, ranges([...set])]),
  );
}

function ranges(values: number[]): string {
  const sorted = values.sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0] as number;
  let end = start;
  for (const v of sorted.slice(1)) {
    if (v === end + 1) end = v;
    else {
      parts.push(start === end ? `${start}` : `${start}-${end}`);
      start = end = v;
    }
  }
  parts.push(start === end ? `${start}` : `${start}-${end}`);
  return parts.join(',');
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

const minDate = (s: EdgeSample[]) =>
  s.reduce<Date | undefined>((m, x) => (m === undefined || x.capturedAt < m ? x.capturedAt : m), undefined);
const maxDate = (s: EdgeSample[]) =>
  s.reduce<Date | undefined>((m, x) => (m === undefined || x.capturedAt > m ? x.capturedAt : m), undefined);

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
