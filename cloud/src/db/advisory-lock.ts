// Postgres advisory locks under the cloud's (class, key) pairs (AdvisoryLockKey in migrate.ts), for
// "one process at a time" jobs.
//
// A session lock belongs to one connection, so on PostgreSQL it is taken on a connection reserved
// from the pool for as long as it is held; when that connection dies the lock is gone, which
// `held()` notices. PGlite is one session in one process (its data directory is locked), so there a
// process-local guard keeps two holders on one handle apart.
//
// A transaction lock is released by the transaction's end, so a try-lock at the top of the
// transaction is all a periodic job needs.
import { sql } from 'drizzle-orm';
import type postgres from 'postgres';
import { type Database, type Db, queryRows } from './database.ts';
import { ADVISORY_LOCK_CLASS, AdvisoryLockKey } from './migrate.ts';

export type AdvisoryLockName = keyof typeof AdvisoryLockKey;

/** A session-level advisory lock one process holds while it leads (a scheduler, an orchestrator). */
export interface SessionAdvisoryLock {
  /** True when this process now holds the lock (or already did). */
  tryAcquire(): Promise<boolean>;
  /** Still held? False once the session that took it is gone. */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

export function sessionAdvisoryLock(
  database: Pick<Database, 'db' | 'driver'>,
  name: AdvisoryLockName,
): SessionAdvisoryLock {
  const key = AdvisoryLockKey[name];
  return database.driver === 'postgres' ? postgresLock(database.db, key) : pgliteLock(database.db, key);
}

/**
 * Takes the transaction-level lock `name` if it is free; false when another transaction holds it.
 * The lock is released when `tx` commits or rolls back.
 */
export async function tryAdvisoryXactLock(tx: Db, name: AdvisoryLockName): Promise<boolean> {
  const [row] = await queryRows<{ ok: boolean }>(
    tx,
    sql`select pg_try_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${AdvisoryLockKey[name]}::int) as ok`,
  );
  return row?.ok === true;
}

/** Per PGlite handle, the holder of each key taken in this process. */
const pgliteHolders = new WeakMap<Db, Map<number, object>>();

function pgliteLock(db: Db, key: number): SessionAdvisoryLock {
  const me = {};
  const lock = sql`${ADVISORY_LOCK_CLASS}::int, ${key}::int`;
  const holders = (): Map<number, object> => {
    let map = pgliteHolders.get(db);
    if (map === undefined) {
      map = new Map();
      pgliteHolders.set(db, map);
    }
    return map;
  };
  return {
    async tryAcquire() {
      const holder = holders().get(key);
      if (holder === me) return true;
      if (holder !== undefined) return false;
      const [row] = await queryRows<{ ok: boolean }>(db, sql`select pg_try_advisory_lock(${lock}) as ok`);
      if (row?.ok !== true) return false;
      holders().set(key, me);
      return true;
    },
    async held() {
      return holders().get(key) === me;
    },
    async release() {
      if (holders().get(key) !== me) return;
      holders().delete(key);
      await db.execute(sql`select pg_advisory_unlock(${lock})`).catch(() => undefined);
    },
  };
}

function postgresLock(db: Db, key: number): SessionAdvisoryLock {
  // drizzle's postgres-js database keeps its client as `$client`.
  const client = (db as unknown as { $client: postgres.Sql }).$client;
  let session: postgres.ReservedSql | null = null;
  return {
    async tryAcquire() {
      if (session !== null) return true;
      const reserved = await client.reserve();
      try {
        const [row] = await reserved<
          { ok: boolean }[]
        >`select pg_try_advisory_lock(${ADVISORY_LOCK_CLASS}::int, ${key}::int) as ok`;
        if (row?.ok === true) {
          session = reserved;
          return true;
        }
      } catch {
        // fall through: not acquired
      }
      reserved.release();
      return false;
    },
    async held() {
      if (session === null) return false;
      try {
        await session`select 1`;
        return true;
      } catch {
        session = null;
        return false;
      }
    },
    async release() {
      const reserved = session;
      session = null;
      if (reserved === null) return;
      try {
        await reserved`select pg_advisory_unlock(${ADVISORY_LOCK_CLASS}::int, ${key}::int)`;
      } catch {
        // the connection is gone, and the lock with it
      } finally {
        reserved.release();
      }
    },
  };
}
