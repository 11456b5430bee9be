// What the fleet gauges show, read from the database at scrape time. Each query is small and
// indexed; telemetry is read over a short recent window from the raw table (so the gauges do not
// depend on the rollup job having run).
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/index.ts';

export interface FleetSnapshot {
  devices: Array<{ connection: string; deviceClass: string; group: string; count: number }>;
  activeModels: Array<{ model: string; version: string; variant: string; count: number }>;
  /** Per model version and device class over the recent window. */
  telemetry: Array<{
    model: string;
    version: string;
    deviceClass: string;
    windows: number;
    inferences: number;
    errors: number;
    latencyHist: number[];
  }>;
  rollouts: Array<{ status: string; count: number }>;
  /** Longest time a running rollout has gone without a state change, seconds (0 if none run). */
  rolloutMaxIdleSeconds: number;
}

const NONE = 'none';

export async function readFleetSnapshot(db: Db, recentSeconds: number): Promise<FleetSnapshot> {
  const devices = await queryRows<{
    connection: string;
    device_class: string;
    group_name: string | null;
    n: number;
  }>(
    db,
    sql`select connection, device_class, group_name, count(*)::int as n
        from devices group by connection, device_class, group_name`,
  );
  const active = await queryRows<{
    model: string | null;
    version: string | null;
    variant: string | null;
    n: number;
  }>(
    db,
    sql`select reported->'active'->>'name' as model, reported->'active'->>'version' as version,
               reported->'active'->>'variant' as variant, count(*)::int as n
        from devices group by 1, 2, 3`,
  );
  const telemetry = await queryRows<{
    model_name: string | null;
    model_version: number | null;
    device_class: string | null;
    windows: number;
    inferences: string;
    errors: string;
    hist: string[] | null;
  }>(
    db,
    sql`select w.model_name, w.model_version, d.device_class, count(*)::int as windows,
               sum(w.inferences)::text as inferences, sum(w.errors)::text as errors,
               edgeloop_array_sum(w.latency_hist)::text[] as hist
        from telemetry_windows w left join devices d on d.id = w.device_id
        where w.window_end > now() - make_interval(secs => ${recentSeconds})
        group by 1, 2, 3`,
  );
  const rollouts = await queryRows<{ status: string; n: number; idle: number | null }>(
    db,
    sql`select status, count(*)::int as n,
               max(extract(epoch from now() - updated_at))::float8 as idle
        from rollouts group by status`,
  );
  return {
    devices: devices.map((r) => ({
      connection: r.connection,
      deviceClass: r.device_class,
      group: r.group_name ?? NONE,
      count: Number(r.n),
    })),
    activeModels: active.map((r) => ({
      model: r.model ?? NONE,
      version: r.version ?? NONE,
      variant: r.variant ?? NONE,
      count: Number(r.n),
    })),
    telemetry: telemetry.map((r) => ({
      model: r.model_name ?? NONE,
      version: r.model_version === null ? NONE : String(r.model_version),
      deviceClass: r.device_class ?? 'unknown',
      windows: Number(r.windows),
      inferences: Number(r.inferences),
      errors: Number(r.errors),
      latencyHist: (r.hist ?? []).map(Number),
    })),
    rollouts: rollouts.map((r) => ({ status: r.status, count: Number(r.n) })),
    rolloutMaxIdleSeconds: Math.max(
      0,
      ...rollouts.filter((r) => r.status === 'running').map((r) => Number(r.idle ?? 0)),
    ),
  };
}
