// Reads the labelled samples devices sent back (`fleet_samples`, written by the samples consumer and
// the labelling API). A row that cannot be training data — a tensor of another shape, a byte count
// that is not the shape, a value outside 0..1, a label that names no class — is skipped, counted by
// reason and logged, never allowed to fail a run or to slip into a dataset.
import { and, count, desc, eq, gte, isNotNull } from 'drizzle-orm';
import type { FleetSample, ImageShape } from '../datasets/index.ts';
import type { Db } from '../db/database.ts';
import { fleetSamples } from '../db/schema.ts';

/** A labelled fleet sample with where it came from. */
export interface EdgeSample extends FleetSample {
  sampleId: string;
  modelVersion: number;
  capturedAt: Date;
  labelSource: 'device' | 'operator' | null;
}

export const SKIP_REASONS = ['shape', 'size', 'values', 'label'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface LoadedSamples {
  samples: EdgeSample[];
  /** Rows read but unusable, by reason. */
  skipped: Record<SkipReason, number>;
  /** The first few unusable rows, for the log and the run's lineage. */
  examples: { deviceId: string; sampleId: string; reason: SkipReason; detail: string }[];
}

const recent = (model: string, since: Date) =>
  and(eq(fleetSamples.modelName, model), isNotNull(fleetSamples.label), gte(fleetSamples.capturedAt, since));

/** How many labelled samples of `model` were captured since `since` (usable or not). */
export async function countLabelledSamples(db: Db, model: string, since: Date): Promise<number> {
  const [row] = await db.select({ n: count() }).from(fleetSamples).where(recent(model, since));
  return Number(row?.n ?? 0);
}

/** The newest `limit` labelled samples of `model` captured since `since`, validated against `shape`. */
export async function loadLabelledSamples(
  db: Db,
  args: { model: string; since: Date; limit: number; shape: ImageShape; classes: number },
): Promise<LoadedSamples> {
  const rows = await db
    .select({
      deviceId: fleetSamples.deviceId,
      sampleId: fleetSamples.sampleId,
      modelVersion: fleetSamples.modelVersion,
      capturedAt: fleetSamples.capturedAt,
      windowSeq: fleetSamples.windowSeq,
      shape: fleetSamples.shape,
      tensor: fleetSamples.tensor,
      label: fleetSamples.label,
      labelSource: fleetSamples.labelSource,
    })
    .from(fleetSamples)
    .where(recent(args.model, args.since))
    .orderBy(desc(fleetSamples.capturedAt), desc(fleetSamples.id))
    .limit(args.limit);
  const loaded: LoadedSamples = {
    samples: [],
    skipped: { shape: 0, size: 0, values: 0, label: 0 },
    examples: [],
  };
  for (const row of rows) {
    const problem = checkRow(row, args.shape, args.classes);
    if (!(problem instanceof Float32Array)) {
      loaded.skipped[problem.reason]++;
      if (loaded.examples.length < 5)
        loaded.examples.push({ deviceId: row.deviceId, sampleId: row.sampleId, ...problem });
      continue;
    }
    loaded.samples.push({
      deviceId: row.deviceId,
      sampleId: row.sampleId,
      modelVersion: row.modelVersion,
      capturedAt: row.capturedAt,
      labelSource: row.labelSource,
      image: problem,
      label: row.label as number,
      ...(row.windowSeq === null ? {} : { window: row.windowSeq }),
    });
  }
  return loaded;
}

/** The image of a usable row, or why it is not usable. */
function checkRow(
  row: { shape: number[]; tensor: Uint8Array; label: number | null },
  shape: ImageShape,
  classes: number,
): Float32Array | { reason: SkipReason; detail: string } {
  const want = [shape.channels, shape.height, shape.width];
  // Batch and channel dimensions of 1 may be written or left out ([1,1,28,28], [1,28,28], [28,28]).
  const significant = (dims: number[]) => dims.filter((d) => d !== 1);
  if (significant(row.shape).join('x') !== significant(want).join('x'))
    return { reason: 'shape', detail: `shape [${row.shape.join(',')}], the model reads [${want.join(',')}]` };
  const size = want.reduce((a, b) => a * b, 1);
  if (row.tensor.byteLength !== size * 4)
    return { reason: 'size', detail: `${row.tensor.byteLength} bytes, expected ${size * 4} (float32)` };
  const view = new DataView(row.tensor.buffer, row.tensor.byteOffset, row.tensor.byteLength);
  const image = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!(v >= 0 && v <= 1)) return { reason: 'values', detail: `value ${v} at ${i} is outside 0..1` };
    image[i] = v;
  }
  const label = row.label;
  if (label === null || !Number.isInteger(label) || label < 0 || label >= classes)
    return { reason: 'label', detail: `label ${label} is not one of ${classes} classes` };
  return image;
}
