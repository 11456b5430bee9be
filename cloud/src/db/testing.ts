// Databases for tests, one entry per driver, so a suite written once runs on both:
//
//   describe.each(testDatabases())('registry on $name', ({ open }) => { ... })
//
// The embedded PGlite is always there. When DATABASE_URL is set (CI), each open() also gets a fresh
// PostgreSQL database on that server, dropped again on close, so test files running in parallel
// never see each other's rows. Every database handed out is already migrated.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { type Database, openDatabase, wrapPglite } from './database.ts';
import { MIGRATIONS_FOLDER } from './migrate.ts';

export interface TestDatabase {
  name: 'pglite' | 'postgres';
  open(): Promise<Database>;
}

// Booting PGlite and migrating costs 3-5 s; loading a dump of an already migrated one ~0.5 s. The
// dump is cached per worker process and on disk (keyed by the migrations' content), so each test
// file after the first skips the boot.
let migratedPgliteDump: Promise<Blob> | undefined;

async function migrationsKey(): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(MIGRATIONS_FOLDER)).filter((f) => f.endsWith('.sql')).sort();
  for (const file of files) hash.update(file).update(await readFile(join(MIGRATIONS_FOLDER, file)));
  // A dump is only valid for the PGlite build that wrote it.
  const pgliteEntry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  hash.update(await readFile(join(dirname(pgliteEntry), '..', 'package.json')));
  return hash.digest('hex').slice(0, 16);
}

async function makeMigratedPgliteDump(): Promise<Blob> {
  const cacheDir = join(tmpdir(), 'edgeloop-test-pglite');
  const cached = join(cacheDir, `migrated-${await migrationsKey()}.tar`);
  const bytes = await readFile(cached).catch(() => undefined);
  if (bytes !== undefined) return new Blob([bytes]);
  const client = new PGlite();
  const template = wrapPglite(client, { location: 'memory' });
  try {
    await template.migrate();
    const dump = await client.dumpDataDir('none');
    await mkdir(cacheDir, { recursive: true });
    // Unique temp name + rename: parallel workers may race to fill the cache; each write is whole.
    const temp = `${cached}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, new Uint8Array(await dump.arrayBuffer()));
    await rename(temp, cached);
    // Dumps for older migrations are 40 MB each and never read again.
    for (const file of await readdir(cacheDir)) {
      if (file.startsWith('migrated-') && join(cacheDir, file) !== cached && file.endsWith('.tar'))
        await rm(join(cacheDir, file), { force: true });
    }
    return dump;
  } finally {
    await template.close();
  }
}

async function openTestPglite(): Promise<Database> {
  migratedPgliteDump ??= makeMigratedPgliteDump();
  const client = new PGlite({ loadDataDir: await migratedPgliteDump });
  await client.waitReady;
  return wrapPglite(client, { location: 'memory' });
}

/** `url` with its database name replaced. */
function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function openTestPostgres(serverUrl: string): Promise<Database> {
  const scratch = await createScratchPostgresDatabase(serverUrl);
  let database: Database | undefined;
  try {
    database = await openDatabase({ url: scratch.url, poolSize: 4, retry: { timeoutMs: 5_000 } });
    await database.migrate();
  } catch (error) {
    await database?.close();
    await scratch.drop();
    throw error;
  }
  const opened = database;
  return {
    ...opened,
    async close() {
      try {
        await opened.close();
      } finally {
        await scratch.drop();
      }
    },
  };
}

/** The database(s) to run a suite against: PGlite always, PostgreSQL when DATABASE_URL is set. */
export function testDatabases(env: NodeJS.ProcessEnv = process.env): TestDatabase[] {
  const list: TestDatabase[] = [{ name: 'pglite', open: openTestPglite }];
  const url = env['DATABASE_URL'];
  if (url !== undefined && url !== '') list.push({ name: 'postgres', open: () => openTestPostgres(url) });
  return list;
}

const SCRATCH_PREFIX = 'edgeloop_t_';
/** A test run killed before its cleanup leaves its databases behind; later runs drop them. */
const SCRATCH_MAX_AGE_S = 6 * 3600;

/** `edgeloop_t_<creation time, base 36 seconds>_<random>`, so the age is readable from the name. */
function scratchName(): string {
  return `${SCRATCH_PREFIX}${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(5).toString('hex')}`;
}

async function dropStaleScratchDatabases(admin: postgres.Sql): Promise<void> {
  const rows = await admin<{ datname: string }[]>`
    select datname from pg_database where datname like ${`${SCRATCH_PREFIX}%`}`;
  const now = Date.now() / 1000;
  for (const { datname } of rows) {
    const created = Number.parseInt(datname.slice(SCRATCH_PREFIX.length).split('_')[0] ?? '', 36);
    if (Number.isFinite(created) && now - created > SCRATCH_MAX_AGE_S) {
      await admin.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => undefined);
    }
  }
}

/** A fresh, empty (not migrated) PostgreSQL database for tests of migration itself. */
export async function createScratchPostgresDatabase(
  serverUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = scratchName();
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await dropStaleScratchDatabases(admin);
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    url: withDatabaseName(serverUrl, name),
    async drop() {
      const dropper = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end({ timeout: 5 });
      }
    },
  };
}
