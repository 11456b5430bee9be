import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeloopError } from '@edgeloop/shared';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DATA_DIR_LOCK_FILE } from './data-dir-lock.ts';
import { openDatabase, queryRows } from './database.ts';
import { MIGRATIONS_FOLDER } from './migrate.ts';
import * as schema from './schema.ts';
import { createScratchPostgresDatabase } from './testing.ts';

const DATABASE_URL = process.env['DATABASE_URL'];

async function journalLength(): Promise<number> {
  const journal = JSON.parse(await readFile(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

describe('PGlite on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-db-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps data across close and reopen, and refuses a second opener while open', async () => {
    const first = await openDatabase({ dataDir: dir });
    await first.migrate();
    await first.db.insert(schema.deviceGroups).values({ name: 'persisted' });
    await expect(openDatabase({ dataDir: dir })).rejects.toMatchObject({ code: 'CONFLICT' });
    await first.close();

    const second = await openDatabase({ dataDir: dir });
    await second.migrate(); // nothing to apply, must not fail
    const rows = await second.db.select().from(schema.deviceGroups);
    expect(rows.map((r) => r.name)).toEqual(['persisted']);
    await second.close();
  }, 60_000);

  it('takes over a lock file left behind by a process that is gone', async () => {
    // Pid 2^22+1 is above Linux's default pid_max, so no live process has it.
    await writeFile(join(dir, DATA_DIR_LOCK_FILE), `${2 ** 22 + 1}\n`);
    const lock = await acquireDataDirLock(dir);
    expect((await readFile(join(dir, DATA_DIR_LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid));
    await expect(acquireDataDirLock(dir)).rejects.toMatchObject({ code: 'CONFLICT' });
    await lock.release();
    await (await acquireDataDirLock(dir)).release();
  });
});

describe('start-up against an unreachable PostgreSQL', () => {
  it('retries with backoff, then fails with UNAVAILABLE naming the server but not the password', async () => {
    const started = performance.now();
    const error = await openDatabase({
      url: 'postgres://edge:s3cret-pw@127.0.0.1:9/edgeloop', // port 9 (discard): nothing listens
      retry: { timeoutMs: 700, initialDelayMs: 50, maxDelayMs: 200 },
    }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(EdgeloopError);
    const { code, message, cause } = error as EdgeloopError;
    expect(code).toBe('UNAVAILABLE');
    expect(message).toContain('postgres://edge:***@127.0.0.1:9/edgeloop');
    expect(message).not.toContain('s3cret');
    expect(message).toMatch(/after [3-9] attempt\(s\).*ECONNREFUSED/);
    expect(cause).toBeDefined();
    expect(elapsed).toBeGreaterThan(300); // it did wait between attempts
    expect(elapsed).toBeLessThan(5_000);
  });
});

describe.skipIf(!DATABASE_URL)('migrations on a real PostgreSQL', () => {
  it('three cloud instances (separate sessions) migrating one database at once all succeed and apply each migration once', async () => {
    const scratch = await createScratchPostgresDatabase(DATABASE_URL!);
    const handles = await Promise.all([1, 2, 3].map(() => openDatabase({ url: scratch.url, poolSize: 2 })));
    try {
      await Promise.all(handles.map((h) => h.migrate()));
      const [db] = handles.map((h) => h.db);
      const applied = await queryRows<{ n: number; distinct: number }>(
        db!,
        sql`select count(*)::int as n, count(distinct hash)::int as distinct from drizzle.__drizzle_migrations`,
      );
      expect(applied[0]).toEqual({ n: await journalLength(), distinct: await journalLength() });
      const tables = await queryRows<{ n: number }>(
        db!,
        sql`select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name = 'models'`,
      );
      expect(tables[0]?.n).toBe(1);
      // Everyone released the lock: a fourth migration takes it without waiting.
      const free = await queryRows<{ ok: boolean }>(db!, sql`select pg_try_advisory_lock(1, 2) as ok`);
      expect(free[0]?.ok).toBe(true);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await scratch.drop();
    }
  });

  it('fails fast, without retrying, when the database does not exist', async () => {
    const url = new URL(DATABASE_URL!);
    url.pathname = '/edgeloop_missing_db';
    const started = performance.now();
    await expect(openDatabase({ url: url.toString() })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/refused us: .*edgeloop_missing_db/),
    });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
