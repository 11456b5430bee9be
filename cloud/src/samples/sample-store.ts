// The read and label side of `fleet_samples`, for the operator API. The retraining orchestrator
// reads the table directly; what it relies on: `label` is set only together with `label_source`
// ('device' | 'operator'), `labelled_by` and `labelled_at`.
import { EdgeloopError, type ModelManifest, type PreprocessingSpec } from '@edgeloop/shared';
import { and, asc, desc, eq, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { events, fleetSamples, modelVariants } from '../db/schema.ts';

export const SAMPLE_LABELLED_EVENT = 'sample.labelled';

export type SampleRecord = typeof fleetSamples.$inferSelect;
export type SampleSummaryRecord = Omit<SampleRecord, 'tensor'>;

export interface SampleFilter {
  model?: string;
  version?: number;
  device?: string;
  labelled?: boolean;
  reason?: 'random' | 'low-confidence';
  /** Page size. */
  limit: number;
  /** Only samples with a smaller id (the previous page's `nextBefore`). */
  before?: number;
}

export interface SampleStatsRow {
  model: string;
  version: number;
  total: number;
  unlabelled: number;
  device: number;
  operator: number;
}

/** What the registry knows about a model version that matters here: its classes and preprocessing. */
export interface VersionInfo {
  classes: string[];
  preprocessing: PreprocessingSpec;
}

export type LabelInput = { label: number } | { confirm: true };

export interface Labeller {
  /** The API token's name, stored as `labelled_by`. */
  name: string;
  /** For the audit event (`token:<id>`). */
  actor: string;
}

/** Every column but the tensor: listings stay small. */
const summaryColumns = {
  id: fleetSamples.id,
  deviceId: fleetSamples.deviceId,
  sampleId: fleetSamples.sampleId,
  modelName: fleetSamples.modelName,
  modelVersion: fleetSamples.modelVersion,
  variant: fleetSamples.variant,
  capturedAt: fleetSamples.capturedAt,
  receivedAt: fleetSamples.receivedAt,
  windowSeq: fleetSamples.windowSeq,
  reason: fleetSamples.reason,
  predictedClass: fleetSamples.predictedClass,
  confidence: fleetSamples.confidence,
  shape: fleetSamples.shape,
  label: fleetSamples.label,
  labelSource: fleetSamples.labelSource,
  labelledBy: fleetSamples.labelledBy,
  labelledAt: fleetSamples.labelledAt,
};

export class SampleStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Newest first; `nextBefore` continues the listing when the page was full. */
  async list(filter: SampleFilter): Promise<{ items: SampleSummaryRecord[]; nextBefore: number | null }> {
    const conditions = [
      filter.model === undefined ? undefined : eq(fleetSamples.modelName, filter.model),
      filter.version === undefined ? undefined : eq(fleetSamples.modelVersion, filter.version),
      filter.device === undefined ? undefined : eq(fleetSamples.deviceId, filter.device),
      filter.labelled === undefined
        ? undefined
        : filter.labelled
          ? isNotNull(fleetSamples.label)
          : isNull(fleetSamples.label),
      filter.reason === undefined ? undefined : eq(fleetSamples.reason, filter.reason),
      filter.before === undefined ? undefined : lt(fleetSamples.id, filter.before),
    ];
    const items = await this.db
      .select(summaryColumns)
      .from(fleetSamples)
      .where(and(...conditions))
      .orderBy(desc(fleetSamples.id))
      .limit(filter.limit);
    const last = items.at(-1);
    return { items, nextBefore: items.length === filter.limit && last ? last.id : null };
  }

  async get(id: number): Promise<SampleRecord> {
    const [row] = await this.db.select().from(fleetSamples).where(eq(fleetSamples.id, id));
    if (!row) throw new EdgeloopError('NOT_FOUND', `sample ${id} does not exist`);
    return row;
  }

  /** Labelled and unlabelled counts per model version, labels split by who gave them. */
  async stats(model?: string): Promise<SampleStatsRow[]> {
    const rows = await this.db
      .select({
        model: fleetSamples.modelName,
        version: fleetSamples.modelVersion,
        total: sql<number>`count(*)::int`,
        unlabelled: sql<number>`(count(*) filter (where ${fleetSamples.label} is null))::int`,
        device: sql<number>`(count(*) filter (where ${fleetSamples.labelSource} = 'device' and ${fleetSamples.label} is not null))::int`,
        operator: sql<number>`(count(*) filter (where ${fleetSamples.labelSource} = 'operator' and ${fleetSamples.label} is not null))::int`,
      })
      .from(fleetSamples)
      .where(model === undefined ? undefined : eq(fleetSamples.modelName, model))
      .groupBy(fleetSamples.modelName, fleetSamples.modelVersion)
      .orderBy(asc(fleetSamples.modelName), asc(fleetSamples.modelVersion));
    return rows.map((r) => ({
      ...r,
      total: Number(r.total),
      unlabelled: Number(r.unlabelled),
      device: Number(r.device),
      operator: Number(r.operator),
    }));
  }

  /** Classes and preprocessing of a registered version (every variant shares them); undefined if unknown. */
  async versionInfo(model: string, version: number): Promise<VersionInfo | undefined> {
    const [row] = await this.db
      .select({ manifest: modelVariants.manifest })
      .from(modelVariants)
      .where(and(eq(modelVariants.modelName, model), eq(modelVariants.version, version)))
      .orderBy(asc(modelVariants.variant))
      .limit(1);
    if (!row) return undefined;
    const manifest = row.manifest as ModelManifest;
    return { classes: manifest.classes, preprocessing: manifest.preprocessing };
  }

  /**
   * Sets an operator's label: a correction (`label`) or a confirmation of the prediction. The label
   * must be a class of the sample's model version. Records a `sample.labelled` event with the label
   * it replaced.
   */
  async label(id: number, input: LabelInput, by: Labeller): Promise<SampleRecord> {
    const sample = await this.get(id);
    const info = await this.versionInfo(sample.modelName, sample.modelVersion);
    const what = `${sample.modelName} version ${sample.modelVersion}`;
    if (!info) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `sample ${id} is from ${what}, which is not in the registry: its classes are unknown, so no label can be checked`,
      );
    }
    const label = 'confirm' in input ? sample.predictedClass : input.label;
    if (label >= info.classes.length) {
      const source = 'confirm' in input ? `the predicted class ${label}` : `label ${label}`;
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `${source} is out of range: ${what} has ${info.classes.length} classes (0-${info.classes.length - 1}: ${info.classes.join(', ')})`,
        { details: [{ in: 'json', path: 'label', message: `must be 0-${info.classes.length - 1}` }] },
      );
    }
    const at = this.now();
    return this.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(fleetSamples)
        .set({ label, labelSource: 'operator', labelledBy: by.name, labelledAt: at })
        .where(eq(fleetSamples.id, id))
        .returning();
      if (!updated) throw new EdgeloopError('NOT_FOUND', `sample ${id} does not exist`);
      await tx.insert(events).values({
        kind: SAMPLE_LABELLED_EVENT,
        subject: `sample:${id}`,
        actor: by.actor,
        at,
        data: {
          model: sample.modelName,
          version: sample.modelVersion,
          deviceId: sample.deviceId,
          sampleId: sample.sampleId,
          label,
          className: info.classes[label],
          confirmed: 'confirm' in input,
          predictedClass: sample.predictedClass,
          previous: { label: sample.label, source: sample.labelSource },
          labelledBy: by.name,
        },
      });
      return updated;
    });
  }
}
