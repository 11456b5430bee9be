// Devices offline per device class and per group: a share of the slice, or an absolute count. A device
// counts once its last message is older than `offlineForSeconds`, so a reboot does not page anyone.
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/index.ts';
import { duration, type FiringAlert, percent } from './alert.ts';
import type { AlertThresholds } from './thresholds.ts';

interface SliceRow {
  scope_kind: 'device_class' | 'group';
  scope: string;
  total: number | string;
  offline: number | string;
}

export async function devicesOfflineAlerts(
  db: Db,
  thresholds: AlertThresholds['devicesOffline'],
  now: Date,
): Promise<FiringAlert[]> {
  const since = new Date(now.getTime() - thresholds.offlineForSeconds * 1000).toISOString();
  const rows = await queryRows<SliceRow>(
    db,
    sql`with d as (
          select device_class, group_name,
                 (connection = 'offline' and coalesce(last_seen_at, updated_at) <= ${since}::timestamptz) as down
          from devices where connection <> 'unknown')
        select 'device_class' as scope_kind, device_class as scope,
               count(*)::int as total, (count(*) filter (where down))::int as offline
        from d group by device_class
        union all
        select 'group', group_name, count(*)::int, (count(*) filter (where down))::int
        from d where group_name is not null group by group_name`,
  );
  const firing: FiringAlert[] = [];
  for (const row of rows) {
    const total = Number(row.total);
    const offline = Number(row.offline);
    const share = total > 0 ? offline / total : 0;
    const byShare = share > thresholds.offlineShare && offline >= thresholds.offlineMinDevices;
    if (!byShare && offline < thresholds.offlineCount) continue;
    const label = row.scope_kind === 'group' ? `group ${row.scope}` : `device class ${row.scope}`;
    firing.push({
      key: `devices_offline:${row.scope_kind}:${row.scope}`,
      kind: 'devices_offline',
      severity: share >= thresholds.offlineCriticalShare ? 'critical' : 'warning',
      subject: `${row.scope_kind}:${row.scope}`,
      message: `${offline} of ${total} devices of ${label} (${percent(share)}) offline for over ${duration(thresholds.offlineForSeconds)}`,
      data: { scopeKind: row.scope_kind, scope: row.scope, offline, total, share },
    });
  }
  return firing;
}
