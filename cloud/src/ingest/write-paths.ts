// The other ways to put a batch of windows into PostgreSQL, kept so `pnpm bench ingest` measures
// them against the chosen path (window-writer.ts, one JSON parameter into json_to_recordset) in the
// same run: one text[] parameter per column into unnest (the path before it), drizzle's multi-row
// VALUES, and postgres.js COPY into a temporary table followed by INSERT ... SELECT ... ON CONFLICT
// (COPY itself cannot skip duplicates).
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'drizzle-orm';
import type postgres from 'postgres';
import { type Db, queryRows } from '../db/index.ts';
import { telemetryWindows } from '../db/schema.ts';
import type { TelemetryWindowRow } from './window-row.ts';
import { WINDOW_COLUMNS as COLUMNS, insertWindows, WINDOW_COLUMN_TYPES } from './window-writer.ts';

export type WritePath = 'json_recordset' | 'unnest_arrays' | 'multi_row_values' | 'copy_then_insert';

/** A row's values in COLUMNS order, as text (null stays null). */
export function windowRowTexts(r: TelemetryWindowRow): Array<string | null> {
  const t = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  return [
    r.deviceId,
    t(r.seq),
    r.windowStart.toISOString(),
    r.windowEnd.toISOString(),
    r.receivedAt.toISOString(),
    t(r.modelName),
    t(r.modelVersion),
    t(r.modelVariant),
    t(r.inferences),
    t(r.errors),
    t(r.latencyCount),
    t(r.latencyMinMs),
    t(r.latencyP50Ms),
    t(r.latencyP95Ms),
    t(r.latencyP99Ms),
    t(r.latencyMaxMs),
    t(r.latencyMeanMs),
    `{${r.latencyHist.join(',')}}`,
    `{${r.classCounts.join(',')}}`,
    t(r.meanConfidence),
    t(r.droppedWindows),
    r.sketches === null || r.sketches === undefined ? null : JSON.stringify(r.sketches),
    r.shadow === null || r.shadow === undefined ? null : JSON.stringify(r.shadow),
  ];
}

/** Each column as one text[] parameter into INSERT ... SELECT FROM unnest(...). */
export async function insertWindowsUnnest(db: Db, rows: readonly TelemetryWindowRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const texts = rows.map(windowRowTexts);
  const arrays = COLUMNS.map((_, c) => texts.map((row) => row[c] ?? null));
  const selects = sql.join(
    COLUMNS.map((_, c) => sql.raw(`c${c}::${WINDOW_COLUMN_TYPES[c]}`)),
    sql`, `,
  );
  const unnests = sql.join(
    arrays.map((a) => sql`${sql.param(a)}::text[]`),
    sql`, `,
  );
  const inserted = await queryRows<{ seq: string }>(
    db,
    sql`insert into telemetry_windows (${sql.raw(COLUMNS.join(', '))})
        select ${selects} from unnest(${unnests}) as u(${sql.raw(COLUMNS.map((_, c) => `c${c}`).join(', '))})
        on conflict (device_id, seq) do nothing returning seq`,
  );
  return inserted.length;
}

/** drizzle's multi-row VALUES: 22 parameters a row. */
export async function insertWindowsValues(db: Db, rows: readonly TelemetryWindowRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await db
    .insert(telemetryWindows)
    .values([...rows])
    .onConflictDoNothing({ target: [telemetryWindows.deviceId, telemetryWindows.seq] })
    .returning({ seq: telemetryWindows.seq });
  return inserted.length;
}

/** COPY's text format: backslash, tab, newline and carriage return escaped; null as \N. */
function copyLine(values: Array<string | null>): string {
  return `${values
    .map((v) =>
      v === null
        ? '\\N'
        : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r'),
    )
    .join('\t')}\n`;
}

/** postgres.js only: COPY into a session temp table, then one INSERT ... SELECT with ON CONFLICT. */
export async function insertWindowsCopy(
  client: postgres.Sql,
  rows: readonly TelemetryWindowRow[],
): Promise<number> {
  if (rows.length === 0) return 0;
  // The temp table lives in one session: reserve a connection from the pool for the whole batch.
  const session = await client.reserve();
  try {
    await session.unsafe(
      'create temp table if not exists telemetry_windows_copy (like telemetry_windows including defaults)',
    );
    await session.unsafe('truncate telemetry_windows_copy');
    const writable: Writable = await session
      .unsafe(`copy telemetry_windows_copy (${COLUMNS.join(', ')}) from stdin`)
      .writable();
    await pipeline(
      (async function* () {
        for (const row of rows) yield copyLine(windowRowTexts(row));
      })(),
      writable,
    );
    const inserted = await session.unsafe(
      `insert into telemetry_windows (${COLUMNS.join(', ')}) select ${COLUMNS.join(', ')} from telemetry_windows_copy on conflict (device_id, seq) do nothing`,
    );
    return inserted.count;
  } finally {
    session.release();
  }
}

export async function writeWithPath(
  path: WritePath,
  db: Db,
  rows: readonly TelemetryWindowRow[],
): Promise<number> {
  switch (path) {
    case 'json_recordset':
      return insertWindows(db, rows);
    case 'unnest_arrays':
      return insertWindowsUnnest(db, rows);
    case 'multi_row_values':
      return insertWindowsValues(db, rows);
    case 'copy_then_insert': {
      const client = (db as unknown as { $client?: postgres.Sql }).$client;
      if (typeof client?.reserve !== 'function') throw new TypeError('COPY needs the postgres.js driver');
      return insertWindowsCopy(client, rows);
    }
  }
}
