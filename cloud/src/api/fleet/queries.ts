// Read-only fleet queries for the dashboard: who is online, what runs where, and telemetry over time.
// Time series read the minute rollup, plus the raw windows the rollup job has not reached yet (those
// ingested after its watermark), so the last minutes show up before the next rollup run.
import { type SQL, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/index.ts';

export const FLEET_METRICS = ['inferences', 'errors', 'latency_p95'] as const;
export type FleetMetric = (typeof FLEET_METRICS)[number];

export interface FleetSummary {
  devices: { deviceClass: string; online: number; offline: number; unknown: number }[];
  versions: { model: string | null; version: string | null; variant: string | null; devices: number }[];
  /** Sums over the last hour; `activeMinutes` counts minutes with any telemetry. */
  lastHour: { inferences: number; errors: number; latencyP95Ms: number | null; activeMinutes: number };
}

export interface SeriesPoint {
  bucket: string;
  value: number | null;
}

/** Rows as either driver returns them: counts may come back as strings, times as strings or Dates. */
type Cell = string | number | Date | null;
const num = (v: Cell): number => Number(v ?? 0);
const numOrNull = (v: Cell): number | null => (v === null ? null : Number(v));
const iso = (v: Cell): string => new Date(v as string | Date).toISOString();

/**
 * Per-minute sums from both sources. The two never count a window twice: the rollup holds windows
 * ingested up to the watermark, the raw branch only those after it.
 */
function minuteBuckets(since: Date, deviceId?: string): SQL {
  const fromIso = since.toISOString();
  const rollupDevice = deviceId ? sql`and r.device_id = ${deviceId}` : sql``;
  const rawDevice = deviceId ? sql`and w.device_id = ${deviceId}` : sql``;
  return sql`
    with mark as (
      select coalesce((select ingested_through from rollup_watermarks where job = 'telemetry'),
        'epoch'::timestamptz) as through
    ), parts as (
      select r.bucket, r.inferences, r.errors, r.latency_count, r.latency_p95_weighted_ms as p95_weighted
      from telemetry_rollup_minute r
      where r.bucket >= date_trunc('minute', ${fromIso}::timestamptz) ${rollupDevice}
      union all
      select date_trunc('minute', w.window_end), w.inferences, w.errors, w.latency_count,
        coalesce(w.latency_p95_ms * w.latency_count, 0)
      from telemetry_windows w, mark
      where w.ingested_at > mark.through
        and w.window_end >= date_trunc('minute', ${fromIso}::timestamptz) ${rawDevice}
    )
    select bucket, sum(inferences)::float8 as inferences, sum(errors)::float8 as errors,
      sum(latency_count)::float8 as latency_count, sum(p95_weighted)::float8 as p95_weighted
    from parts group by bucket order by bucket`;
}

interface BucketRow {
  bucket: Cell;
  inferences: Cell;
  errors: Cell;
  latency_count: Cell;
  p95_weighted: Cell;
}

/** The weighted mean of the windows' p95s (what the rollup can merge), null without latencies. */
function p95Of(row: BucketRow): number | null {
  const count = num(row.latency_count);
  return count > 0 ? num(row.p95_weighted) / count : null;
}

export async function fleetTimeseries(
  db: Db,
  metric: FleetMetric,
  since: Date,
  deviceId?: string,
): Promise<SeriesPoint[]> {
  const rows = await queryRows<BucketRow>(db, minuteBuckets(since, deviceId));
  return rows.map((row) => ({
    bucket: iso(row.bucket),
    value: metric === 'latency_p95' ? p95Of(row) : num(metric === 'inferences' ? row.inferences : row.errors),
  }));
}

export async function fleetSummary(db: Db, now: Date): Promise<FleetSummary> {
  const [connections, versions, buckets] = await Promise.all([
    queryRows<{ device_class: string; connection: string; n: Cell }>(
      db,
      sql`select device_class, connection, count(*)::int as n from devices group by 1, 2 order by 1`,
    ),
    queryRows<{ model: string | null; version: Cell; variant: string | null; n: Cell }>(
      db,
      sql`select reported->'active'->>'name' as model, reported->'active'->>'version' as version,
        reported->'active'->>'variant' as variant, count(*)::int as n
        from devices group by 1, 2, 3 order by 4 desc, 1, 2, 3`,
    ),
    queryRows<BucketRow>(db, minuteBuckets(new Date(now.getTime() - 3_600_000))),
  ]);

  const byClass = new Map<string, FleetSummary['devices'][number]>();
  for (const row of connections) {
    const entry = byClass.get(row.device_class) ?? {
      deviceClass: row.device_class,
      online: 0,
      offline: 0,
      unknown: 0,
    };
    const state = row.connection === 'online' || row.connection === 'offline' ? row.connection : 'unknown';
    entry[state] += num(row.n);
    byClass.set(row.device_class, entry);
  }

  const total = buckets.reduce(
    (sum, row) => ({
      inferences: sum.inferences + num(row.inferences),
      errors: sum.errors + num(row.errors),
      latency_count: sum.latency_count + num(row.latency_count),
      p95_weighted: sum.p95_weighted + num(row.p95_weighted),
    }),
    { inferences: 0, errors: 0, latency_count: 0, p95_weighted: 0 },
  );
  return {
    devices: [...byClass.values()],
    versions: versions.map((v) => ({
      model: v.model,
      version: v.version === null ? null : String(v.version),
      variant: v.variant,
      devices: num(v.n),
    })),
    lastHour: {
      inferences: total.inferences,
      errors: total.errors,
      latencyP95Ms: p95Of({ bucket: null, ...total }),
      activeMinutes: buckets.length,
    },
  };
}

export interface DeviceWindow {
  seq: number;
  windowStart: string;
  windowEnd: string;
  model: string | null;
  inferences: number;
  errors: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  meanConfidence: number | null;
  classCounts: number[];
}

/** A device's most recent raw windows, newest first. */
export async function deviceWindows(db: Db, deviceId: string, limit: number): Promise<DeviceWindow[]> {
  const rows = await queryRows<Record<string, Cell | Cell[]>>(
    db,
    sql`select seq::float8 as seq, window_start, window_end, model_name, model_version, model_variant,
      inferences::float8 as inferences, errors::float8 as errors, latency_p50_ms, latency_p95_ms,
      mean_confidence, class_counts::float8[] as class_counts
      from telemetry_windows where device_id = ${deviceId} order by window_end desc, seq desc limit ${limit}`,
  );
  return rows.map((r) => ({
    seq: num(r.seq as Cell),
    windowStart: iso(r.window_start as Cell),
    windowEnd: iso(r.window_end as Cell),
    model:
      r.model_name === null ? null : `${r.model_name} v${r.model_version} ${r.model_variant ?? ''}`.trim(),
    inferences: num(r.inferences as Cell),
    errors: num(r.errors as Cell),
    latencyP50Ms: numOrNull(r.latency_p50_ms as Cell),
    latencyP95Ms: numOrNull(r.latency_p95_ms as Cell),
    meanConfidence: numOrNull(r.mean_confidence as Cell),
    classCounts: ((r.class_counts as Cell[] | null) ?? []).map((c) => num(c)),
  }));
}
