// Alerts in the database. `reconcile` turns what fires now into rows: a new condition opens an alert
// (and writes an `alert.opened` event), a known one refreshes `last_seen_at`, one that no longer
// fires is resolved (`alert.resolved`). The partial unique index on `key` where unresolved keeps
// one open alert per condition even if two writers ever raced.
import { and, count, desc, eq, inArray, isNotNull, isNull, type SQL } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { alerts, events } from '../db/schema.ts';
import {
  ALERT_OPENED_EVENT,
  ALERT_RESOLVED_EVENT,
  type AlertKind,
  type AlertRecord,
  type AlertSeverity,
  type FiringAlert,
} from './alert.ts';

export interface Reconciled {
  opened: AlertRecord[];
  resolved: AlertRecord[];
  /** Open alerts after this pass. */
  open: number;
}

const ACTOR = 'alerts';

export async function reconcileAlerts(
  tx: Db,
  firing: readonly FiringAlert[],
  now: Date,
): Promise<Reconciled> {
  const current = await tx.select().from(alerts).where(isNull(alerts.resolvedAt));
  const open = new Map(current.map((a) => [a.key, a]));
  const firingByKey = new Map(firing.map((f) => [f.key, f]));
  const opened: AlertRecord[] = [];
  for (const f of firingByKey.values()) {
    const refresh = { severity: f.severity, message: f.message, data: f.data, lastSeenAt: now };
    const known = open.get(f.key);
    if (known) {
      await tx.update(alerts).set(refresh).where(eq(alerts.id, known.id));
      continue;
    }
    const [row] = await tx
      .insert(alerts)
      .values({ ...f, openedAt: now, lastSeenAt: now })
      .onConflictDoUpdate({ target: alerts.key, targetWhere: isNull(alerts.resolvedAt), set: refresh })
      .returning();
    if (!row) continue;
    opened.push(row);
    await tx.insert(events).values({
      at: now,
      kind: ALERT_OPENED_EVENT,
      subject: row.subject,
      actor: ACTOR,
      data: { alertId: row.id, key: row.key, kind: row.kind, severity: row.severity, message: row.message },
    });
  }
  const cleared = current.filter((a) => !firingByKey.has(a.key));
  const resolved: AlertRecord[] = [];
  if (cleared.length > 0) {
    resolved.push(
      ...(await tx
        .update(alerts)
        .set({ resolvedAt: now })
        .where(
          and(
            inArray(
              alerts.id,
              cleared.map((a) => a.id),
            ),
            isNull(alerts.resolvedAt),
          ),
        )
        .returning()),
    );
    if (resolved.length > 0) {
      await tx.insert(events).values(
        resolved.map((a) => ({
          at: now,
          kind: ALERT_RESOLVED_EVENT,
          subject: a.subject,
          actor: ACTOR,
          data: {
            alertId: a.id,
            key: a.key,
            kind: a.kind,
            openedAt: a.openedAt.toISOString(),
            lastMessage: a.message,
          },
        })),
      );
    }
  }
  return { opened, resolved, open: current.length - resolved.length + opened.length };
}

export type AlertState = 'open' | 'resolved' | 'all';

export interface AlertFilter {
  state: AlertState;
  kind?: AlertKind;
  limit: number;
}

/** Newest first: open alerts by when they opened, resolved ones by the same clock. */
export async function listAlerts(db: Db, filter: AlertFilter): Promise<AlertRecord[]> {
  const where: (SQL | undefined)[] = [
    filter.state === 'open' ? isNull(alerts.resolvedAt) : undefined,
    filter.state === 'resolved' ? isNotNull(alerts.resolvedAt) : undefined,
    filter.kind ? eq(alerts.kind, filter.kind) : undefined,
  ];
  return db
    .select()
    .from(alerts)
    .where(and(...where))
    .orderBy(desc(alerts.openedAt), desc(alerts.id))
    .limit(filter.limit);
}

/** Open alerts by kind and severity (the `edgeloop_alerts_open` gauge). */
export async function openAlertCounts(
  db: Db,
): Promise<Array<{ kind: AlertKind; severity: AlertSeverity; count: number }>> {
  return db
    .select({ kind: alerts.kind, severity: alerts.severity, count: count() })
    .from(alerts)
    .where(isNull(alerts.resolvedAt))
    .groupBy(alerts.kind, alerts.severity);
}
