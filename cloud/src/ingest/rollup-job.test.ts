import { asc, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import {
  deviceGroups,
  devices,
  telemetryRollupHour,
  telemetryRollupMinute,
  telemetryWindows,
} from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { histogramFromSummary, mergeHistograms } from './latency-histogram.ts';
import { RollupJob } from './rollup-job.ts';
import { telemetryWindow } from './testing.ts';
import { windowRow } from './window-row.ts';
import { insertWindows } from './window-writer.ts';

const MINUTE = 60_000;
/** Two minutes inside one hour, a little in the past (retention is relative to now()). */
const T0 = Math.floor((Date.now() - 3 * 3_600_000) / 3_600_000) * 3_600_000;

describe.each(testDatabases())('RollupJob on $name', ({ open }) => {
  let database: Database;

  beforeAll(async () => {
    database = await open();
    await database.db.insert(deviceGroups).values({ name: 'lobby' });
    await database.db.insert(devices).values([
      { id: 'cam-1', deviceClass: 'pi4', groupName: 'lobby' },
      { id: 'cam-2', deviceClass: 'jetson' },
    ]);
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });
  beforeEach(async () => {
    await database.db.execute(
      sql`truncate telemetry_windows, telemetry_rollup_minute, telemetry_rollup_hour, rollup_watermarks`,
    );
  });

  const write = (deviceId: string, seq: number, windowEnd: number, latency = { p50: 1.5, max: 9 }) =>
    insertWindows(database.db, [
      windowRow(
        deviceId,
        telemetryWindow(deviceId, seq, {
          windowStart: windowEnd - MINUTE,
          windowEnd,
          latencyMs: {
            count: 100,
            min: 0.5,
            p50: latency.p50,
            p95: 4,
            p99: 6,
            max: latency.max,
            mean: latency.p50,
          },
          classCounts: seq % 2 === 0 ? [10, 20] : [1, 2, 3],
        }),
        new Date(windowEnd),
      ),
    ]);
  const job = (retention = {}) => new RollupJob({ db: database.db, settleMs: 0, retention });
  const minuteRows = () =>
    database.db
      .select()
      .from(telemetryRollupMinute)
      .orderBy(asc(telemetryRollupMinute.bucket), asc(telemetryRollupMinute.deviceId));

  it('rolls windows into minute and hour buckets per device, group, class and model', async () => {
    await write('cam-1', 1, T0 + 10_000, { p50: 1, max: 5 });
    await write('cam-1', 2, T0 + 50_000, { p50: 3, max: 9 });
    await write('cam-1', 3, T0 + MINUTE + 5_000);
    await write('cam-2', 1, T0 + 20_000);
    expect(await job().runOnce()).toMatchObject({ ran: true, windows: 4 });

    const minutes = await minuteRows();
    expect(minutes.map((m) => [m.bucket.getTime() - T0, m.deviceId, m.windows])).toEqual([
      [0, 'cam-1', 2],
      [0, 'cam-2', 1],
      [MINUTE, 'cam-1', 1],
    ]);
    const [first] = minutes;
    expect(first).toMatchObject({
      groupName: 'lobby',
      deviceClass: 'pi4',
      modelName: 'digits',
      modelVersion: 3,
      modelVariant: 'int8',
      inferences: 200,
      errors: 4,
      latencyCount: 200,
      latencySumMs: 100 * 1 + 100 * 3,
      latencyMaxMs: 9,
      classCounts: [11, 22, 3],
    });
    expect(first?.latencyHist).toEqual(
      mergeHistograms(
        histogramFromSummary({ count: 100, min: 0.5, p50: 1, p95: 4, p99: 6, max: 5, mean: 1 }),
        histogramFromSummary({ count: 100, min: 0.5, p50: 3, p95: 4, p99: 6, max: 9, mean: 3 }),
      ),
    );
    expect(minutes[1]).toMatchObject({ groupName: '', deviceClass: 'jetson' });

    const hours = await database.db
      .select()
      .from(telemetryRollupHour)
      .orderBy(asc(telemetryRollupHour.deviceId));
    expect(hours.map((h) => [h.bucket.getTime() - T0, h.deviceId, h.windows, h.inferences])).toEqual([
      [0, 'cam-1', 3, 300],
      [0, 'cam-2', 1, 100],
    ]);
  });

  it('is idempotent, and adds a late window to its old bucket on the next run', async () => {
    await write('cam-1', 1, T0 + 10_000);
    const rollup = job();
    await rollup.runOnce();
    expect(await rollup.runOnce()).toMatchObject({ ran: true, windows: 0 });
    expect((await minuteRows()).map((m) => m.windows)).toEqual([1]);
    await write('cam-1', 7, T0 + 30_000); // arrives after the bucket was rolled up
    await write('cam-1', 1, T0 + 10_000); // a duplicate: not stored, not counted
    expect(await rollup.runOnce()).toMatchObject({ windows: 1 });
    expect((await minuteRows()).map((m) => [m.windows, m.inferences])).toEqual([[2, 200]]);
  });

  it('counts each window once when several processes run at the same time', async () => {
    for (let seq = 1; seq <= 20; seq++) await write('cam-1', seq, T0 + seq * 1_000);
    const runs = await Promise.all([job().runOnce(), job().runOnce(), job().runOnce()]);
    expect(runs.reduce((sum, r) => sum + r.windows, 0)).toBe(20);
    expect((await minuteRows()).map((m) => m.windows)).toEqual([20]);
  });

  it('leaves windows younger than the settle margin for the next run', async () => {
    await write('cam-1', 1, T0);
    expect(await new RollupJob({ db: database.db, settleMs: 60_000 }).runOnce()).toMatchObject({
      windows: 0,
    });
    expect(await job().runOnce()).toMatchObject({ windows: 1 });
  });

  it('applies retention per level, deleting raw windows only once rolled up', async () => {
    const old = T0 - 2 * 86_400_000;
    await write('cam-1', 1, old);
    await write('cam-1', 2, T0);
    const run = await job({
      rawMs: 86_400_000,
      minuteMs: 1.5 * 86_400_000,
      hourMs: 3 * 86_400_000,
    }).runOnce();
    expect(run.deleted).toEqual({ raw: 1, minute: 1, hour: 0 });
    const raw = await database.db.select({ seq: telemetryWindows.seq }).from(telemetryWindows);
    expect(raw.map((r) => r.seq)).toEqual([2]);
    expect((await database.db.select().from(telemetryRollupHour)).length).toBe(2);
  });

  it('refuses a non-positive retention at construction', () => {
    expect(() => new RollupJob({ db: database.db, retention: { rawMs: 0 } })).toThrow(RangeError);
  });
});
