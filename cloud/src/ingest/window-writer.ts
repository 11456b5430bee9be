// Writing a batch of windows. Deduplication is the database's job: the primary key (device_id,
// seq) plus ON CONFLICT DO NOTHING makes a redelivered or replayed window a no-op, whichever
// process or batch it arrives in, and the count of inserted rows tells stored from duplicate.
//
// The batch travels as one JSON text (the rows as they are: JSON.stringify is native, no escaping
// per value in JS) that json_to_recordset types back into rows: one statement of fixed shape
// whatever the batch size, and one row back (the count) rather than one per window. Measured with
// `pnpm bench ingest` (write paths, see bench/README.md) against the alternatives in
// write-paths.ts: one text[] parameter per column into unnest (the previous path: same rows/s when
// the server is the limit, but ~1.5-2x this process's CPU per row in postgres.js' array escaping),
// drizzle's multi-row VALUES and COPY into a temp table + INSERT ... ON CONFLICT (4-6x slower).
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/index.ts';
import type { TelemetryWindowRow } from './window-row.ts';

export const WINDOW_COLUMNS = [
  'device_id',
  'seq',
  'window_start',
  'window_end',
  'received_at',
  'model_name',
  'model_version',
  'model_variant',
  'inferences',
  'errors',
  'latency_count',
  'latency_min_ms',
  'latency_p50_ms',
  'latency_p95_ms',
  'latency_p99_ms',
  'latency_max_ms',
  'latency_mean_ms',
  'latency_hist',
  'class_counts',
  'mean_confidence',
  'dropped_windows',
  'sketches',
  'shadow',
] as const;
export const WINDOW_COLUMN_TYPES = [
  'text',
  'int8',
  'timestamptz',
  'timestamptz',
  'timestamptz',
  'text',
  'int4',
  'text',
  'int8',
  'int8',
  'int8',
  'float8',
  'float8',
  'float8',
  'float8',
  'float8',
  'float8',
  'int8[]',
  'int8[]',
  'float8',
  'int8',
  'jsonb',
  'jsonb',
] as const;

/** Columns sent as epoch milliseconds: JSON.stringify of a Date (toISOString) costs ~2 µs a row. */
const EPOCH_MS_COLUMNS = new Set<string>(['window_start', 'window_end', 'received_at']);

/** The first instant whose ISO text has a six-digit year (+010000-...), which PostgreSQL refuses. */
const YEAR_10000_MS = Date.UTC(10_000, 0, 1);

/**
 * Epoch ms to timestamptz: integer ms over 1000 (numeric, exact) to float8 seconds, well within a
 * microsecond. A time past year 9999 still fails (22007, a poison row dead-lettered on its own) as
 * it did when times travelled as ISO text: the contract allows it, no device clock means it.
 */
function fromEpochMs(key: string): string {
  return `case when "${key}" < ${YEAR_10000_MS} then to_timestamp("${key}" / 1000.0) else ("${key}" || ' ms')::timestamptz end`;
}

/** json_to_recordset's column list: the record keys (camelCase, as the row's), the columns' types. */
const RECORD_KEYS = WINDOW_COLUMNS.map((column) =>
  column.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase()),
);
const INSERT_FROM_JSON = sql.raw(
  `with inserted as (insert into telemetry_windows (${WINDOW_COLUMNS.join(', ')})
     select ${RECORD_KEYS.map((k, c) => (EPOCH_MS_COLUMNS.has(WINDOW_COLUMNS[c] as string) ? fromEpochMs(k) : `"${k}"`)).join(', ')} from json_to_recordset(`,
);
const RECORD_DEFINITION = sql.raw(
  `::json) as r(${RECORD_KEYS.map(
    (k, c) => `"${k}" ${EPOCH_MS_COLUMNS.has(WINDOW_COLUMNS[c] as string) ? 'int8' : WINDOW_COLUMN_TYPES[c]}`,
  ).join(', ')})
     on conflict (device_id, seq) do nothing returning 1)
   select count(*)::int as stored from inserted`,
);

/** The row as json_to_recordset reads it: one object shape for every row, times as epoch ms. */
function record(r: TelemetryWindowRow) {
  return {
    deviceId: r.deviceId,
    seq: r.seq,
    windowStart: r.windowStart.getTime(),
    windowEnd: r.windowEnd.getTime(),
    receivedAt: r.receivedAt.getTime(),
    modelName: r.modelName,
    modelVersion: r.modelVersion,
    modelVariant: r.modelVariant,
    inferences: r.inferences,
    errors: r.errors,
    latencyCount: r.latencyCount,
    latencyMinMs: r.latencyMinMs,
    latencyP50Ms: r.latencyP50Ms,
    latencyP95Ms: r.latencyP95Ms,
    latencyP99Ms: r.latencyP99Ms,
    latencyMaxMs: r.latencyMaxMs,
    latencyMeanMs: r.latencyMeanMs,
    latencyHist: r.latencyHist,
    classCounts: r.classCounts,
    meanConfidence: r.meanConfidence,
    droppedWindows: r.droppedWindows,
    sketches: r.sketches,
    shadow: r.shadow,
  };
}

/** Writes the rows, skipping (device, seq) already stored; returns how many were new. */
export async function insertWindows(db: Db, rows: readonly TelemetryWindowRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const [result] = await queryRows<{ stored: number }>(
    db,
    sql`${INSERT_FROM_JSON}${sql.param(JSON.stringify(rows.map(record)))}${RECORD_DEFINITION}`,
  );
  return Number(result?.stored ?? 0);
}
