import { doublePrecision, index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { at, count, counts } from './columns.ts';

// ── Telemetry: raw windows, rollups, rollup progress ────────────────────────────────────────────

/**
 * One telemetry window as a device sent it (shared `TelemetryWindow`), deduplicated on
 * (device_id, seq): a redelivered window is the same row. No foreign key to `devices`: the bridge
 * has already checked the device exists, and a per-row FK check would cost every insert.
 * `class_counts` is bigint[] rather than jsonb so rollups can sum it element-wise in SQL.
 */
export const telemetryWindows = pgTable(
  'telemetry_windows',
  {
    deviceId: text('device_id').notNull(),
    seq: count('seq').notNull(),
    windowStart: at('window_start').notNull(),
    windowEnd: at('window_end').notNull(),
    /** When the cloud received the message (lag = received_at - window_end). */
    receivedAt: at('received_at').notNull(),
    /** The database's clock at insert: the rollup watermark, immune to ingest-side clock skew. */
    ingestedAt: at('ingested_at').notNull().defaultNow(),
    modelName: text('model_name'),
    modelVersion: integer('model_version'),
    modelVariant: text('model_variant'),
    inferences: count('inferences').notNull(),
    errors: count('errors').notNull(),
    latencyCount: count('latency_count').notNull().default(0),
    latencyMinMs: doublePrecision('latency_min_ms'),
    latencyP50Ms: doublePrecision('latency_p50_ms'),
    latencyP95Ms: doublePrecision('latency_p95_ms'),
    latencyP99Ms: doublePrecision('latency_p99_ms'),
    latencyMaxMs: doublePrecision('latency_max_ms'),
    latencyMeanMs: doublePrecision('latency_mean_ms'),
    /** Inferences per LATENCY_BUCKETS_MS bucket, reconstructed from the summary (ingest/latency-histogram.ts). */
    latencyHist: counts('latency_hist').notNull(),
    classCounts: counts('class_counts').notNull(),
    meanConfidence: doublePrecision('mean_confidence'),
    droppedWindows: count('dropped_windows').notNull().default(0),
    sketches: jsonb('sketches'),
    /** Shadow-mode summary (shared `ShadowSummary`), when the device ran a shadow model. */
    shadow: jsonb('shadow'),
  },
  (t) => [
    primaryKey({ name: 'telemetry_windows_pk', columns: [t.deviceId, t.seq] }),
    index('telemetry_windows_ingested_idx').on(t.ingestedAt),
    index('telemetry_windows_end_idx').on(t.windowEnd),
  ],
);

/**
 * Rollup rows share one shape per level. Every aggregate is mergeable (sums, max, element-wise
 * histogram sums), so a bucket can be built from any number of deltas and two levels agree.
 * Empty strings / 0 stand for "none" in the key (a primary key column cannot be null).
 */
const rollupColumns = () => ({
  bucket: at('bucket').notNull(),
  deviceId: text('device_id').notNull(),
  groupName: text('group_name').notNull(),
  deviceClass: text('device_class').notNull(),
  modelName: text('model_name').notNull(),
  modelVersion: integer('model_version').notNull(),
  modelVariant: text('model_variant').notNull(),
  windows: count('windows').notNull(),
  inferences: count('inferences').notNull(),
  errors: count('errors').notNull(),
  droppedWindows: count('dropped_windows').notNull(),
  latencyCount: count('latency_count').notNull(),
  /** Sum of window mean × window count: divided by latency_count gives the exact mean. */
  latencySumMs: doublePrecision('latency_sum_ms').notNull(),
  latencyMaxMs: doublePrecision('latency_max_ms'),
  /** Sum of window p95 × window count: an inference-weighted mean of p95s (not a true quantile). */
  latencyP95WeightedMs: doublePrecision('latency_p95_weighted_ms').notNull(),
  latencyHist: counts('latency_hist').notNull(),
  /** Sum of mean confidence × inferences, over windows that reported one. */
  confidenceSum: doublePrecision('confidence_sum').notNull(),
  confidenceCount: count('confidence_count').notNull(),
  classCounts: counts('class_counts').notNull(),
  updatedAt: at('updated_at').notNull().defaultNow(),
});

export const telemetryRollupMinute = pgTable('telemetry_rollup_minute', rollupColumns(), (t) => [
  primaryKey({
    name: 'telemetry_rollup_minute_pk',
    columns: [t.bucket, t.deviceId, t.groupName, t.deviceClass, t.modelName, t.modelVersion, t.modelVariant],
  }),
]);

export const telemetryRollupHour = pgTable('telemetry_rollup_hour', rollupColumns(), (t) => [
  primaryKey({
    name: 'telemetry_rollup_hour_pk',
    columns: [t.bucket, t.deviceId, t.groupName, t.deviceClass, t.modelName, t.modelVersion, t.modelVariant],
  }),
]);

/** How far the rollup job has read `telemetry_windows.ingested_at`, per job name. */
export const rollupWatermarks = pgTable('rollup_watermarks', {
  job: text('job').primaryKey(),
  ingestedThrough: at('ingested_through').notNull(),
  updatedAt: at('updated_at').notNull().defaultNow(),
});
