import { asc, eq, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Database, queryRows } from '../db/index.ts';
import { deadLetters, telemetryWindows } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { LATENCY_HISTOGRAM_LENGTH } from './latency-histogram.ts';
import { TelemetryIngestor, type TelemetryIngestorOptions } from './telemetry-ingestor.ts';
import { flakyDb, telemetryWindow } from './testing.ts';

describe.each(testDatabases())('TelemetryIngestor on $name', ({ open }) => {
  let database: Database;
  let registry: Registry;
  let ingestor: TelemetryIngestor | undefined;

  beforeAll(async () => {
    database = await open();
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });
  beforeEach(async () => {
    await ingestor?.stop();
    ingestor = undefined;
    registry = new Registry();
    await database.db.execute(sql`truncate telemetry_windows, dead_letters`);
  });

  const start = (options: Partial<TelemetryIngestorOptions> = {}) => {
    ingestor = new TelemetryIngestor({ db: database.db, registry, flushIntervalMs: 10, ...options });
    ingestor.start();
    return ingestor;
  };
  const outcomes = async () =>
    Object.fromEntries(
      (await registry.getSingleMetric('edgeloop_ingest_windows_total')?.get())?.values.map((v) => [
        v.labels['outcome'],
        v.value,
      ]) ?? [],
    );
  const storedSeqs = async (deviceId: string) =>
    (
      await database.db
        .select({ seq: telemetryWindows.seq })
        .from(telemetryWindows)
        .where(eq(telemetryWindows.deviceId, deviceId))
        .orderBy(asc(telemetryWindows.seq))
    ).map((r) => r.seq);

  it('stores every field of a window, including nulls, arrays and sketches', async () => {
    const ing = start();
    const full = telemetryWindow('cam-1', 7, {
      sketches: { v: 1, packed: 'AAEC', quantiles: { latency: 'AQID' } },
    });
    const bare = telemetryWindow('cam-1', 8, {
      model: null,
      latencyMs: null,
      meanConfidence: null,
      classCounts: [],
    });
    ing.offer('cam-1', full);
    ing.offer('cam-1', bare);
    await ing.drain();
    const rows = await database.db.select().from(telemetryWindows).orderBy(asc(telemetryWindows.seq));
    expect(rows).toHaveLength(2);
    const [a, b] = rows;
    expect(a).toMatchObject({
      deviceId: 'cam-1',
      seq: 7,
      windowEnd: new Date(full.windowEnd),
      modelName: 'digits',
      modelVersion: 3,
      modelVariant: 'int8',
      inferences: 100,
      errors: 2,
      latencyCount: 100,
      latencyP95Ms: 4,
      classCounts: [50, 30, 20],
      meanConfidence: 0.9,
      sketches: { v: 1, packed: 'AAEC', quantiles: { latency: 'AQID' } },
    });
    expect(a?.latencyHist).toHaveLength(LATENCY_HISTOGRAM_LENGTH);
    expect(a?.latencyHist.reduce((x, y) => x + y, 0)).toBe(100);
    expect(b).toMatchObject({
      modelName: null,
      modelVersion: null,
      latencyP50Ms: null,
      classCounts: [],
      sketches: null,
    });
  });

  it('keeps counts up to 2^53 - 1 exact', async () => {
    const ing = start();
    const max = Number.MAX_SAFE_INTEGER;
    ing.offer(
      'cam-1',
      telemetryWindow('cam-1', max, {
        windowStart: 1_900_000_000_000,
        windowEnd: 1_900_000_000_000,
        inferences: max,
        errors: max,
        latencyMs: null,
      }),
    );
    await ing.drain();
    const [row] = await database.db.select().from(telemetryWindows);
    expect([row?.seq, row?.inferences, row?.errors]).toEqual([max, max, max]);
  });

  it('deduplicates redelivered and out-of-order windows on (device, seq)', async () => {
    const ing = start({ batchSize: 2, maxBuffered: 4 });
    for (const seq of [3, 1, 2, 1, 3, 5]) ing.offer('cam-1', telemetryWindow('cam-1', seq));
    ing.offer('cam-2', telemetryWindow('cam-2', 1)); // same seq, another device: not a duplicate
    await ing.drain();
    // A second ingestor (another process, a restart) sees the same windows again.
    const again = new TelemetryIngestor({ db: database.db, registry, flushIntervalMs: 10 });
    again.start();
    again.offer('cam-1', telemetryWindow('cam-1', 2));
    await again.stop();
    expect(await storedSeqs('cam-1')).toEqual([1, 2, 3, 5]);
    expect(await storedSeqs('cam-2')).toEqual([1]);
    expect(await outcomes()).toMatchObject({ stored: 5, duplicate: 3 });
  });

  it('holds acknowledgements while the database is down, then writes everything once it is back', async () => {
    const flaky = flakyDb(database.db);
    flaky.down = true;
    const ing = start({ db: flaky.db, batchSize: 5, maxBuffered: 10, retry: { initialMs: 5, maxMs: 20 } });
    for (let seq = 1; seq <= 10; seq++) ing.offer('cam-1', telemetryWindow('cam-1', seq));
    expect(ing.hasRoom).toBe(false);
    // What the ack gate asks before each PUBACK: no room, so it must wait.
    const room = (ing as unknown as { room(): Promise<void> | undefined }).room();
    expect(room).toBeInstanceOf(Promise);
    let acked = false;
    void room?.then(() => {
      acked = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(acked).toBe(false);
    expect(flaky.failures).toBeGreaterThan(1); // it kept retrying
    expect(await registry.getSingleMetric('edgeloop_ingest_backpressure')?.get()).toMatchObject({
      values: [{ value: 1 }],
    });

    flaky.down = false;
    await room;
    expect(acked).toBe(true);
    await ing.drain();
    expect(await storedSeqs('cam-1')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(
      (await registry.getSingleMetric('edgeloop_ingest_write_errors_total')?.get())?.values[0]?.value,
    ).toBe(flaky.failures);
  });

  it('writes what is buffered on stop', async () => {
    const ing = start({ flushIntervalMs: 60_000, batchSize: 100 });
    for (let seq = 1; seq <= 7; seq++) ing.offer('cam-1', telemetryWindow('cam-1', seq));
    await ing.stop();
    expect(await storedSeqs('cam-1')).toHaveLength(7);
  });

  it('counts windows as lost only when stopping with the database still down', async () => {
    const flaky = flakyDb(database.db);
    flaky.down = true;
    const ing = start({ db: flaky.db, stopTimeoutMs: 30, retry: { initialMs: 5, maxMs: 10 } });
    ing.offer('cam-1', telemetryWindow('cam-1', 1));
    await ing.stop();
    expect(await outcomes()).toMatchObject({ lost: 1 });
  });

  it('rate-limits a flooding device without touching the others, dead-lettering the excess', async () => {
    let now = 1_900_000_000_000;
    const ing = start({ rateLimit: { perSecond: 1, burst: 5 }, now: () => now });
    for (let seq = 1; seq <= 20; seq++) {
      ing.offer('flood', telemetryWindow('flood', seq));
      if (seq <= 3) ing.offer('calm', telemetryWindow('calm', seq));
    }
    now += 2_000; // two more tokens
    ing.offer('flood', telemetryWindow('flood', 21));
    ing.offer('flood', telemetryWindow('flood', 22));
    await ing.drain();
    expect(await storedSeqs('calm')).toEqual([1, 2, 3]);
    expect(await storedSeqs('flood')).toEqual([1, 2, 3, 4, 5, 21, 22]);
    expect(await outcomes()).toMatchObject({ stored: 10, rate_limited: 15 });
    const letters = await database.db.select().from(deadLetters);
    expect(letters.length).toBe(15);
    expect(letters.every((l) => l.code === 'RATE_LIMITED' && l.deviceId === 'flood')).toBe(true);
    // The raw window is kept, so an operator can replay it.
    expect(JSON.parse(Buffer.from(letters[0]?.raw ?? []).toString())).toMatchObject({ deviceId: 'flood' });
  });

  it('dead-letters a window the database refuses and stores the rest of its batch', async () => {
    const ing = start({ batchSize: 8, flushIntervalMs: 50 });
    for (let seq = 1; seq <= 8; seq++) {
      // Past PostgreSQL's last timestamp (year 294276), though a valid JavaScript date.
      const poison =
        seq === 5 ? { windowStart: 8_000_000_000_000_000, windowEnd: 8_000_000_000_000_000 } : {};
      ing.offer('cam-1', telemetryWindow('cam-1', seq, poison));
    }
    await ing.drain();
    expect(await storedSeqs('cam-1')).toEqual([1, 2, 3, 4, 6, 7, 8]);
    const letters = await database.db.select().from(deadLetters);
    expect(letters.map((l) => l.code)).toEqual(['WRITE_REJECTED']);
    expect(await outcomes()).toMatchObject({ stored: 7, rejected: 1 });
  });

  it('refuses a buffer smaller than a batch at construction', () => {
    expect(() => new TelemetryIngestor({ db: database.db, batchSize: 100, maxBuffered: 10 })).toThrow(
      RangeError,
    );
  });

  it('records lag from the window end to receipt', async () => {
    const ing = start({ now: () => telemetryWindow('x', 1).windowEnd + 1_500 });
    ing.offer('cam-1', telemetryWindow('cam-1', 1));
    await ing.drain();
    const lag = await registry.getSingleMetric('edgeloop_telemetry_lag_seconds')?.get();
    expect(
      lag?.values.find(
        (v) => (v as { metricName?: string }).metricName === 'edgeloop_telemetry_lag_seconds_sum',
      )?.value,
    ).toBe(1.5);
    const [{ n } = { n: 0 }] = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from telemetry_windows`,
    );
    expect(n).toBe(1);
  });
});
