// Error-rate spikes per model version × device class: the last few minutes of telemetry windows
// against the hour before. Raw windows (kept for days) rather than rollups, so the check does not
// depend on the rollup job having caught up.
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/index.ts';
import { duration, type FiringAlert, percent } from './alert.ts';
import type { AlertThresholds } from './thresholds.ts';

interface RateRow {
  model: string;
  version: number | string;
  device_class: string;
  recent_inferences: number | string | null;
  recent_errors: number | string | null;
  base_inferences: number | string | null;
  base_errors: number | string | null;
}

export async function errorRateAlerts(
  db: Db,
  thresholds: AlertThresholds['errorRate'],
  now: Date,
): Promise<FiringAlert[]> {
  const end = now.toISOString();
  const recentStart = new Date(now.getTime() - thresholds.recentSeconds * 1000).toISOString();
  const baseStart = new Date(
    now.getTime() - (thresholds.recentSeconds + thresholds.baselineSeconds) * 1000,
  ).toISOString();
  const rows = await queryRows<RateRow>(
    db,
    sql`select w.model_name as model, w.model_version as version,
               coalesce(d.device_class, 'unknown') as device_class,
               (sum(w.inferences) filter (where w.window_end > ${recentStart}::timestamptz))::float8 as recent_inferences,
               (sum(w.errors) filter (where w.window_end > ${recentStart}::timestamptz))::float8 as recent_errors,
               (sum(w.inferences) filter (where w.window_end <= ${recentStart}::timestamptz))::float8 as base_inferences,
               (sum(w.errors) filter (where w.window_end <= ${recentStart}::timestamptz))::float8 as base_errors
        from telemetry_windows w left join devices d on d.id = w.device_id
        where w.window_end > ${baseStart}::timestamptz and w.window_end <= ${end}::timestamptz
          and w.model_name is not null and w.model_version is not null
        group by 1, 2, 3`,
  );
  const firing: FiringAlert[] = [];
  for (const row of rows) {
    const inferences = Number(row.recent_inferences ?? 0);
    if (inferences < thresholds.minInferences) continue;
    const rate = Number(row.recent_errors ?? 0) / inferences;
    const baseInferences = Number(row.base_inferences ?? 0);
    // Too little history (a version just rolled out) compares against 0: the absolute floor decides.
    const baseline =
      baseInferences >= thresholds.minInferences ? Number(row.base_errors ?? 0) / baseInferences : 0;
    if (rate < thresholds.minRate || rate < baseline * thresholds.ratio) continue;
    const version = Number(row.version);
    firing.push({
      key: `error_rate:${row.model}:${version}:${row.device_class}`,
      kind: 'error_rate',
      severity: rate >= thresholds.criticalRate ? 'critical' : 'warning',
      subject: `model:${row.model}`,
      message:
        `${row.model} v${version} on ${row.device_class}: ${percent(rate)} of ${inferences} inferences failed in the last ` +
        `${duration(thresholds.recentSeconds)} (before: ${baseInferences >= thresholds.minInferences ? percent(baseline) : 'too few to compare'})`,
      data: {
        model: row.model,
        version,
        deviceClass: row.device_class,
        inferences,
        rate,
        baselineInferences: baseInferences,
        baselineRate: baseInferences >= thresholds.minInferences ? baseline : null,
      },
    });
  }
  return firing;
}
