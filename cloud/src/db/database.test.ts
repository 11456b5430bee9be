// The shared integration suite: the schema and the handle's behaviour, on every driver
// (PGlite always, PostgreSQL when DATABASE_URL is set).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError } from '@edgeloop/shared';
import { eq, getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, queryRows } from './database.ts';
import { toEdgeloopError } from './errors.ts';
import { MIGRATIONS_FOLDER } from './migrate.ts';
import * as schema from './schema.ts';
import { testDatabases } from './testing.ts';

const tableNames = Object.values(schema)
  .flatMap((value) => (is(value, PgTable) ? [getTableName(value)] : []))
  .sort();

async function journalLength(): Promise<number> {
  const journal = JSON.parse(await readFile(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<EdgeloopError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => toEdgeloopError(e, 'test query'),
  );
  expect(error, `expected ${code}`).toBeInstanceOf(EdgeloopError);
  expect(error?.code).toBe(code);
  return error as EdgeloopError;
}

describe.each(testDatabases())('database on $name', ({ open }) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('has every table of the schema after migration, and records every migration once', async () => {
    const rows = await queryRows<{ name: string }>(
      database.db,
      sql`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
    );
    expect(rows.map((r) => r.name)).toEqual(tableNames);
    await database.migrate(); // idempotent: nothing left to apply
    const applied = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    expect(applied[0]?.n).toBe(await journalLength());
  });

  it('round-trips jsonb, text[], bytea, bigint and timestamptz', async () => {
    const { db } = database;
    await db.insert(schema.deviceGroups).values({ name: 'lab' });
    await db.insert(schema.devices).values({
      id: 'cam-1',
      groupName: 'lab',
      tags: ['north', 'indoor'],
      deviceClass: 'pi4',
      reported: { v: 1, nested: { list: [1, 2.5, 'x'] }, unicode: 'naïve ✓' },
      desiredGeneration: 2 ** 40,
      lastSeenAt: new Date('2024-05-01T10:00:00.123Z'),
    });
    const [device] = await db.select().from(schema.devices).where(eq(schema.devices.id, 'cam-1'));
    expect(device?.tags).toEqual(['north', 'indoor']);
    expect(device?.reported).toEqual({ v: 1, nested: { list: [1, 2.5, 'x'] }, unicode: 'naïve ✓' });
    expect(device?.desiredGeneration).toBe(2 ** 40);
    expect(device?.lastSeenAt?.toISOString()).toBe('2024-05-01T10:00:00.123Z');
    expect(device?.connection).toBe('unknown');

    const raw = Uint8Array.from([0, 1, 2, 254, 255]);
    await db
      .insert(schema.deadLetters)
      .values({ source: 'mqtt', code: 'X', reason: 'test', raw, rawBytes: 5 });
    const [letter] = await db.select().from(schema.deadLetters);
    expect(Uint8Array.from(letter?.raw ?? [])).toEqual(raw);
  });

  it('rolls a transaction back when its callback throws', async () => {
    const { db } = database;
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(schema.deviceGroups).values({ name: 'doomed' });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const rows = await db.select().from(schema.deviceGroups).where(eq(schema.deviceGroups.name, 'doomed'));
    expect(rows).toEqual([]);
  });

  it('maps constraint violations and immutability refusals to stable codes', async () => {
    const { db } = database;
    await db.insert(schema.models).values({ name: 'digits', classes: ['0', '1'] });
    await expectCode(db.insert(schema.models).values({ name: 'digits', classes: ['0', '1'] }), 'CONFLICT');
    // A variant needs its version, an alias needs its version.
    await db.insert(schema.artifacts).values({ sha256: 'a'.repeat(64), size: 3 });
    await expectCode(
      db.insert(schema.modelVariants).values({
        modelName: 'digits',
        version: 9,
        variant: 'fp32',
        sha256: 'a'.repeat(64),
        manifest: {},
        signature: {},
      }),
      'CONFLICT',
    );
    await expectCode(
      db.insert(schema.modelAliases).values({ modelName: 'digits', alias: 'champion', version: 9 }),
      'CONFLICT',
    );

    await db.insert(schema.modelVersions).values({ modelName: 'digits', version: 1, lineage: {} });
    const refused = await expectCode(
      db.update(schema.modelVersions).set({ metrics: { accuracy: 1 } }),
      'IMMUTABLE',
    );
    expect(refused.message).toMatch(/UPDATE on model_versions/);
    expect(refused.details).toEqual({ sqlState: 'EL409' });
    await expectCode(db.delete(schema.modelVersions), 'IMMUTABLE');
    await expectCode(db.update(schema.artifacts).set({ size: 4 }), 'IMMUTABLE');
    const [version] = await db.select().from(schema.modelVersions);
    expect(version?.metrics).toBeNull();
  });
});
