// Applying drizzle/ at start. drizzle's migrator reads the last applied migration and then applies
// the rest in one transaction; two processes doing that at once would both see "nothing applied"
// and race on CREATE TABLE. A session-level advisory lock around the whole run serialises them: the
// first applies, the others wait, then find everything applied and do nothing.
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { type DatabaseLog, type Db, queryRows } from './database.ts';
import { toEdgeloopError } from './errors.ts';

/** The generated SQL migrations (cloud/drizzle), next to this package's src/. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * Advisory lock keys used by the cloud, as (class, key) pairs so they cannot collide with locks
 * other software takes on a shared server. Add new ones here, never reuse a number.
 */
export const ADVISORY_LOCK_CLASS = 0x65646765; // 'edge'
export const AdvisoryLockKey = {
  migrations: 1,
  scheduler: 2,
  /** Telemetry rollup + retention (cloud/src/ingest/rollup-job.ts): one process at a time. */
  telemetryRollup: 3,
  /** Drift evaluation (cloud/src/drift): one monitor at a time across cloud processes. */
  driftMonitor: 4,
  /** Retraining orchestrator (cloud/src/retraining): one run started at a time. */
  retraining: 5,
  /** Alert evaluation (cloud/src/alerts). */
  alerts: 6,
} as const;

async function appliedCount(db: Db): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    db,
    sql`
    select count(*)::int as n from information_schema.tables
    where table_schema = 'drizzle' and table_name = '__drizzle_migrations'`,
  );
  if (Number(rows[0]?.n ?? 0) === 0) return 0;
  const applied = await queryRows<{ n: number }>(
    db,
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return Number(applied[0]?.n ?? 0);
}

/**
 * Runs `apply` (the driver's drizzle migrator) while holding the migrations advisory lock. `db` must
 * be bound to ONE connection: the lock belongs to the session that took it, and unlocking from
 * another pooled connection would silently do nothing.
 */
export async function migrateUnderLock(
  db: Db,
  apply: () => Promise<void>,
  log: DatabaseLog | undefined,
): Promise<{ applied: number; waitedMs: number; tookMs: number }> {
  const started = performance.now();
  const lock = sql`${ADVISORY_LOCK_CLASS}::int, ${AdvisoryLockKey.migrations}::int`;
  const tried = await queryRows<{ ok: boolean }>(db, sql`select pg_try_advisory_lock(${lock}) as ok`);
  if (tried[0]?.ok !== true) {
    log?.info('database: another process is migrating; waiting for the migrations lock');
    await db.execute(sql`select pg_advisory_lock(${lock})`);
  }
  const waitedMs = performance.now() - started;
  try {
    const before = await appliedCount(db);
    try {
      await apply();
    } catch (error) {
      throw toEdgeloopError(error, `applying migrations from ${MIGRATIONS_FOLDER}`);
    }
    const applied = (await appliedCount(db)) - before;
    const tookMs = performance.now() - started;
    if (applied > 0) log?.info(`database: applied ${applied} migration(s) in ${Math.round(tookMs)} ms`);
    return { applied, waitedMs, tookMs };
  } finally {
    await db.execute(sql`select pg_advisory_unlock(${lock})`);
  }
}
