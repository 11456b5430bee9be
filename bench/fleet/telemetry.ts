// Measurement, database side: what reached `telemetry_windows` in an interval, read back from the
// rows themselves. `received_at` is the cloud's clock when the bridge took the message, `ingested_at`
// the database's clock at insert, `window_end` the agent's clock when it closed the window (the agent
// queues it on disk and publishes it right after). All three clocks are this machine's.
import type { Database } from '@edgeloop/cloud';
import { round } from '../rollout/process.ts';

export interface IngestInterval {
  seconds: number;
  /** Rows whose `ingested_at` falls in the interval. */
  windows: number;
  windows_per_s: number;
  devices_reporting: number;
  /** received_at − window_end: agent queue + publish + broker + bridge. */
  lag_received_ms: { p50: number; p99: number; max: number };
  /** ingested_at − window_end: the same plus the ingestor's batching and the insert. */
  lag_stored_ms: { p50: number; p99: number; max: number };
}

type Row = Record<string, unknown>;

async function query(database: Database, text: string): Promise<Row[]> {
  const result = (await database.db.execute(text)) as unknown;
  return Array.isArray(result) ? (result as Row[]) : ((result as { rows: Row[] }).rows ?? []);
}

const iso = (ms: number) => new Date(ms).toISOString();
const num = (v: unknown) => round(Number(v ?? 0), 1);

/** Telemetry stored between `fromMs` and `toMs` (epoch ms, on the database's clock). */
export async function ingestInterval(
  database: Database,
  fromMs: number,
  toMs: number,
): Promise<IngestInterval> {
  const [row = {}] = await query(
    database,
    `select count(*) as windows,
            count(distinct device_id) as devices,
            percentile_cont(0.5) within group (order by extract(epoch from received_at - window_end) * 1000) as r50,
            percentile_cont(0.99) within group (order by extract(epoch from received_at - window_end) * 1000) as r99,
            max(extract(epoch from received_at - window_end) * 1000) as rmax,
            percentile_cont(0.5) within group (order by extract(epoch from ingested_at - window_end) * 1000) as s50,
            percentile_cont(0.99) within group (order by extract(epoch from ingested_at - window_end) * 1000) as s99,
            max(extract(epoch from ingested_at - window_end) * 1000) as smax
       from telemetry_windows
      where ingested_at >= '${iso(fromMs)}' and ingested_at < '${iso(toMs)}'`,
  );
  const seconds = (toMs - fromMs) / 1000;
  const windows = Number(row.windows ?? 0);
  return {
    seconds: round(seconds, 1),
    windows,
    windows_per_s: round(windows / seconds, 1),
    devices_reporting: Number(row.devices ?? 0),
    lag_received_ms: { p50: num(row.r50), p99: num(row.r99), max: num(row.rmax) },
    lag_stored_ms: { p50: num(row.s50), p99: num(row.s99), max: num(row.smax) },
  };
}

/** Every row stored so far (the whole run). */
export async function windowsStored(database: Database): Promise<number> {
  const [row = {}] = await query(database, 'select count(*) as n from telemetry_windows');
  return Number(row.n ?? 0);
}
