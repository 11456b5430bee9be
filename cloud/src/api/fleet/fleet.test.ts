import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { devices, rollupWatermarks, telemetryRollupMinute, telemetryWindows } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { createApiFixture, setConnection } from '../testing.ts';

const NOW = new Date('2030-05-06T12:30:20Z');
const minutesAgo = (m: number, s = 0) => new Date(NOW.getTime() - m * 60_000 - s * 1000);
const ACTIVE = { name: 'digits', version: '3', variant: 'int8', sha256: 'a'.repeat(64) };

/** A raw window ending `m` minutes ago (plus `s` seconds), ingested at `ingestedAt`. */
function window(
  deviceId: string,
  seq: number,
  m: number,
  values: Partial<typeof telemetryWindows.$inferInsert>,
) {
  const end = minutesAgo(m, 0);
  return {
    deviceId,
    seq,
    windowStart: new Date(end.getTime() - 10_000),
    windowEnd: end,
    receivedAt: end,
    ingestedAt: end,
    modelName: 'digits',
    modelVersion: 3,
    modelVariant: 'int8',
    inferences: 0,
    errors: 0,
    latencyHist: [],
    classCounts: [1, 2, 3],
    ...values,
  };
}

function rollup(
  bucketMinutesAgo: number,
  deviceId: string,
  values: Partial<typeof telemetryRollupMinute.$inferInsert>,
) {
  const bucket = minutesAgo(bucketMinutesAgo);
  bucket.setUTCSeconds(0, 0);
  return {
    bucket,
    deviceId,
    groupName: '',
    deviceClass: 'simulated',
    modelName: 'digits',
    modelVersion: 3,
    modelVariant: 'int8',
    windows: 1,
    inferences: 0,
    errors: 0,
    droppedWindows: 0,
    latencyCount: 0,
    latencySumMs: 0,
    latencyP95WeightedMs: 0,
    latencyHist: [],
    confidenceSum: 0,
    confidenceCount: 0,
    classCounts: [],
    ...values,
  };
}

describe.each(testDatabases())('fleet API on $name', ({ open }) => {
  let database: Database;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;
  const get = (path: string, token = fx.tokens.viewer) => fx.request('GET', path, { token });

  beforeAll(async () => {
    database = await open();
    fx = await createApiFixture(database.db, { now: () => NOW });
    for (const [id, deviceClass] of [
      ['cam-1', 'simulated'],
      ['cam-2', 'simulated'],
      ['pi-1', 'raspberry-pi-4'],
    ] as const) {
      expect((await fx.request('POST', '/api/v1/devices', { body: { id, deviceClass } })).status).toBe(201);
    }
    await setConnection(database.db, 'cam-1', 'online');
    await setConnection(database.db, 'pi-1', 'offline');
    await database.db.update(devices).set({ reported: { active: ACTIVE } });

    // Rolled up: minutes 5 and 3 ago. The watermark sits 2.5 minutes back: windows ingested later are raw only.
    await database.db.insert(telemetryRollupMinute).values([
      rollup(5, 'cam-1', { inferences: 100, errors: 2, latencyCount: 100, latencyP95WeightedMs: 100 * 8 }),
      rollup(5, 'cam-2', { inferences: 50, errors: 0, latencyCount: 50, latencyP95WeightedMs: 50 * 20 }),
      rollup(3, 'cam-1', { inferences: 30, errors: 1, latencyCount: 30, latencyP95WeightedMs: 30 * 10 }),
      rollup(90, 'cam-1', { inferences: 999, errors: 9 }), // older than the default hour
    ]);
    await database.db
      .insert(rollupWatermarks)
      .values({ job: 'telemetry', ingestedThrough: minutesAgo(2, 30) });
    await database.db.insert(telemetryWindows).values([
      // Already in the rollup above (ingested before the watermark): must not be counted twice.
      window('cam-1', 1, 3, { inferences: 30, errors: 1, latencyCount: 30, latencyP95Ms: 10 }),
      // Newer than the watermark: only the raw branch has them.
      window('cam-1', 2, 1, { inferences: 40, errors: 4, latencyCount: 40, latencyP95Ms: 12 }),
      window('cam-2', 1, 1, { inferences: 10, errors: 0, latencyCount: 10, latencyP95Ms: 2 }),
    ]);
  });
  afterAll(async () => database.close());

  it('summarizes connections per class, active versions and the last hour', async () => {
    const res = await get('/api/v1/fleet/summary');
    expect(res.status).toBe(200);
    expect(res.json.devices).toEqual([
      { deviceClass: 'raspberry-pi-4', online: 0, offline: 1, unknown: 0 },
      { deviceClass: 'simulated', online: 1, offline: 0, unknown: 1 },
    ]);
    expect(res.json.versions).toEqual([{ model: 'digits', version: '3', variant: 'int8', devices: 3 }]);
    expect(res.json.lastHour).toEqual({
      inferences: 230,
      errors: 7,
      // (800 + 1000 + 300 + 40×12 + 10×2) / 230
      latencyP95Ms: expect.closeTo(2600 / 230, 6),
      activeMinutes: 3,
    });
  });

  it('serves per-minute series from the rollup plus raw windows past the watermark', async () => {
    const res = await get('/api/v1/fleet/timeseries?metric=inferences');
    expect(res.status).toBe(200);
    expect(res.json.since).toBe(minutesAgo(60).toISOString());
    const minute = (m: number) => {
      const d = minutesAgo(m);
      d.setUTCSeconds(0, 0);
      return d.toISOString();
    };
    expect(res.json.points).toEqual([
      { bucket: minute(5), value: 150 },
      { bucket: minute(3), value: 30 },
      { bucket: minute(1), value: 50 },
    ]);
    const errors = await get('/api/v1/fleet/timeseries?metric=errors&bucket=minute');
    expect(errors.json.points.map((p: { value: number }) => p.value)).toEqual([2, 1, 4]);
    const latency = await get('/api/v1/fleet/timeseries?metric=latency_p95');
    expect(latency.json.points.map((p: { value: number }) => p.value)).toEqual([
      expect.closeTo(1800 / 150, 6),
      10,
      expect.closeTo(500 / 50, 6),
    ]);
  });

  it('filters a series by device and by `since`, and reaches back at most a day', async () => {
    const one = await get(`/api/v1/fleet/timeseries?metric=inferences&deviceId=cam-2`);
    expect(one.json.points.map((p: { value: number }) => p.value)).toEqual([50, 10]);
    const recent = await get(
      `/api/v1/fleet/timeseries?metric=inferences&since=${minutesAgo(4).toISOString()}`,
    );
    expect(recent.json.points.map((p: { value: number }) => p.value)).toEqual([30, 50]);
    const old = await get(`/api/v1/fleet/timeseries?metric=errors&since=${minutesAgo(120).toISOString()}`);
    expect(old.json.points.map((p: { value: number }) => p.value)).toEqual([9, 2, 1, 4]);
    const clamped = await get('/api/v1/fleet/timeseries?metric=errors&since=2000-01-01T00:00:00Z');
    expect(clamped.json.since).toBe(minutesAgo(24 * 60).toISOString());
  });

  it('rejects an unknown metric or bucket', async () => {
    expect((await get('/api/v1/fleet/timeseries?metric=cpu')).status).toBe(400);
    expect((await get('/api/v1/fleet/timeseries?metric=errors&bucket=hour')).status).toBe(400);
  });

  it("lists a device's recent windows newest first, and 404s an unknown device", async () => {
    const res = await get('/api/v1/devices/cam-1/telemetry?limit=5');
    expect(res.status).toBe(200);
    expect(res.json.windows.map((w: { seq: number }) => w.seq)).toEqual([2, 1]);
    expect(res.json.windows[0]).toMatchObject({
      model: 'digits v3 int8',
      inferences: 40,
      errors: 4,
      latencyP95Ms: 12,
      classCounts: [1, 2, 3],
      windowEnd: minutesAgo(1).toISOString(),
    });
    expect((await get('/api/v1/devices/nope/telemetry')).status).toBe(404);
  });

  it('needs a token', async () => {
    expect((await fx.request('GET', '/api/v1/fleet/summary', { token: null })).status).toBe(401);
  });
});
