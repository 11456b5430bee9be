// One database handle, two drivers: PGlite (Postgres compiled to WASM, in-process) by default and
// PostgreSQL through postgres.js when a URL is given. Feature code sees only `Db`, the drizzle
// PostgreSQL database type both drivers extend, so it is written once and runs on either.
import { mkdir } from 'node:fs/promises';
import { EdgeloopError } from '@edgeloop/shared';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { connectWithRetry, type RetryPolicy } from './connect.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { redactUrl } from './errors.ts';
import { MIGRATIONS_FOLDER, migrateUnderLock } from './migrate.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;

/**
 * The drizzle database every feature codes against. Both `PgliteDatabase` and `PostgresJsDatabase`
 * are assignable to it; transactions (`db.transaction(async (tx) => ...)`) are too, so a function
 * taking `Db` can run inside or outside one.
 */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export type DatabaseDriver = 'pglite' | 'postgres';

/** Where the handle reports progress; `console` fits. Silent when absent. */
export interface DatabaseLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface Database {
  readonly db: Db;
  readonly driver: DatabaseDriver;
  /** For logs: the URL with its password redacted, the PGlite data directory, or `memory`. */
  readonly location: string;
  /** Applies pending migrations from cloud/drizzle, serialised across processes by an advisory lock. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL (usually DATABASE_URL). When set, PostgreSQL is used; otherwise PGlite. */
  url?: string;
  /** PGlite's data directory (created if missing). Ignored with `url`. */
  dataDir?: string;
  /** PGlite in memory, gone on close: for tests. Ignored with `url`. */
  inMemory?: boolean;
  log?: DatabaseLog;
  /** PostgreSQL: how long to keep retrying an unreachable server at start. */
  retry?: Partial<RetryPolicy>;
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number;
}

/**
 * Opens the cloud's database. With `url`, connects to PostgreSQL (retrying with backoff while the
 * server is unreachable, then failing with UNAVAILABLE); otherwise opens PGlite on `dataDir`, or in
 * memory. Does not migrate: call `migrate()` at start.
 *
 * @example
 * const database = await openDatabase({ url: process.env.DATABASE_URL, dataDir: 'data/db' });
 * await database.migrate();
 * const rows = await database.db.select().from(models);
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url !== undefined && options.url !== '') return openPostgres(options.url, options);
  if (options.inMemory === true) return wrapPglite(new PGlite(), { location: 'memory', log: options.log });
  if (options.dataDir === undefined)
    throw new TypeError('openDatabase: give `url`, `dataDir` or `inMemory: true`');
  await mkdir(options.dataDir, { recursive: true });
  // PGlite has no locking of its own: two processes on one data directory corrupt it.
  const lock = await acquireDataDirLock(options.dataDir);
  try {
    const client = new PGlite(options.dataDir);
    await client.waitReady;
    return wrapPglite(client, { location: options.dataDir, log: options.log, onClose: lock.release });
  } catch (error) {
    await lock.release();
    throw new EdgeloopError(
      'UNAVAILABLE',
      `cannot open the embedded database in ${options.dataDir}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** Wraps an existing PGlite client (e.g. one loaded from a dump in tests) as a Database. */
export function wrapPglite(
  client: PGlite,
  options: { location: string; log?: DatabaseLog | undefined; onClose?: () => Promise<void> },
): Database {
  const db = drizzlePglite({ client, schema });
  return {
    db,
    driver: 'pglite',
    location: options.location,
    async migrate() {
      // One PGlite client is one session, so the lock and the migration share it.
      await migrateUnderLock(
        db,
        () => migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER }),
        options.log,
      );
    },
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        await options.onClose?.();
      }
    },
  };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const location = redactUrl(url);
  const clientOptions = (max: number) => ({
    max,
    connect_timeout: 10,
    // drizzle's migrator issues CREATE ... IF NOT EXISTS, which raises NOTICEs; keep them out of stdout.
    onnotice: () => {},
  });
  const client = postgres(url, clientOptions(options.poolSize ?? 10));
  try {
    await connectWithRetry(() => client`select 1`, { location, log: options.log, policy: options.retry });
  } catch (error) {
    await client.end({ timeout: 1 });
    throw error;
  }
  const db = drizzlePostgres({ client, schema });
  return {
    db,
    driver: 'postgres',
    location,
    async migrate() {
      // A dedicated single-connection client: the advisory lock is held by one session.
      const session = postgres(url, clientOptions(1));
      try {
        const sessionDb = drizzlePostgres({ client: session, schema });
        await migrateUnderLock(
          sessionDb,
          () => migratePostgres(sessionDb, { migrationsFolder: MIGRATIONS_FOLDER }),
          options.log,
        );
      } finally {
        await session.end({ timeout: 5 });
      }
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * Rows of a raw SQL query on either driver: postgres.js returns an array, PGlite `{ rows }`.
 *
 * @example
 * const [row] = await queryRows<{ now: Date }>(db, sql`select now() as now`);
 */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as T[];
  return (result as { rows: T[] }).rows;
}
