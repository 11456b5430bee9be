// The shadow summary of a telemetry window survives the write path into `telemetry_windows.shadow`
// (the rollout view reads it back), and a window without one stores null.
import { telemetryWindowSchema } from '@edgeloop/shared';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { telemetryWindows } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { telemetryWindow } from './testing.ts';
import { windowRow } from './window-row.ts';
import { insertWindows } from './window-writer.ts';

const shadow = {
  model: { name: 'digits', version: '4', variant: 'int8' as const, sha256: 'cd'.repeat(32) },
  frames: 40,
  agreements: 37,
  errors: 1,
  latencyMs: { count: 39, min: 0.5, p50: 1.5, p95: 3, p99: 4, max: 5, mean: 1.6 },
};

describe.each(testDatabases())('shadow summaries in telemetry_windows on $name', ({ open }) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('stores the shadow summary as given, and null without one', async () => {
    const at = new Date();
    const stored = await insertWindows(database.db, [
      windowRow('cam-s', telemetryWindow('cam-s', 1, { shadow }), at),
      windowRow('cam-s', telemetryWindow('cam-s', 2), at),
    ]);
    expect(stored).toBe(2);
    const rows = await database.db
      .select({ seq: telemetryWindows.seq, shadow: telemetryWindows.shadow })
      .from(telemetryWindows)
      .where(eq(telemetryWindows.deviceId, 'cam-s'))
      .orderBy(asc(telemetryWindows.seq));
    expect(rows).toEqual([
      { seq: 1, shadow },
      { seq: 2, shadow: null },
    ]);
  });

  it('never sees an impossible summary: the contract refuses it before ingestion', () => {
    const bad = telemetryWindowSchema.safeParse(
      telemetryWindow('cam-s', 3, { shadow: { ...shadow, agreements: 40 } }),
    );
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe('agreements plus errors cannot exceed frames');
  });
});
