// Sample ingestion behind the real MQTT path: a device publishes a batch, the consumer validates it
// and writes `fleet_samples`. Embedded broker (aedes) on both database drivers, sharing the
// connection's message router with the bridge and telemetry ingestion exactly as the cloud runs them; a shared subscription on the
// external Mosquitto when MQTT_URL is set.
import { randomBytes } from 'node:crypto';
import { topics } from '@edgeloop/shared';
import { asc, eq, sql } from 'drizzle-orm';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type Db, queryRows } from '../db/index.ts';
import { deadLetters, fleetSamples } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { DeviceRegistry, firmwareDeviceClasses } from '../identity/device-registry.ts';
import { startTelemetryIngestion } from '../ingest/index.ts';
import { telemetryWindow } from '../ingest/testing.ts';
import { type CloudMqttConnection, connectCloudMqtt } from '../mqtt/connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from '../mqtt/embedded-broker.ts';
import { silentLogger } from '../mqtt/observability.ts';
import { SamplesConsumer, type SamplesConsumerOptions } from './samples-consumer.ts';
import { encodeTensor, testBatch, testSample } from './testing.ts';

const CLOUD_SECRET = 'samples-test-cloud-secret';
const MQTT_URL = process.env['MQTT_URL'];

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const count = async (db: Db, table: 'fleet_samples' | 'dead_letters' | 'telemetry_windows') =>
  (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from ${sql.raw(table)}`))[0]?.n ?? 0;

/** A database whose query builders fail like an unreachable server while `down` is set. */
function outageDb(db: Db) {
  const state = { db, down: false, failures: 0 };
  state.db = new Proxy(db, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if ((key !== 'insert' && key !== 'select') || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.down) {
          state.failures++;
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return state;
}

async function startConsumer(
  db: Db,
  connection: CloudMqttConnection,
  options: Partial<SamplesConsumerOptions> = {},
) {
  const registry = new Registry();
  const consumer = new SamplesConsumer({
    db,
    connection,
    registry,
    deadLetters: { perSecond: 10_000 },
    ...options,
  });
  await consumer.start();
  return {
    consumer,
    registry,
    async outcome(name: string): Promise<number> {
      const metric = await registry.getSingleMetric('edgeloop_samples_received_total')?.get();
      return metric?.values.find((v) => v.labels['outcome'] === name)?.value ?? 0;
    },
  };
}

describe.each(testDatabases())('sample ingestion over the embedded broker, $name', ({ open }) => {
  let database: Database;
  let broker: EmbeddedBroker;
  let publisher: MqttClient;
  let connection: CloudMqttConnection;

  beforeAll(async () => {
    database = await open();
    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
      hashIterations: 1,
    });
    for (const id of ['cam-1', 'cam-2']) await identity.provisionDevice({ id, deviceClass: 'simulated' });
    broker = await startEmbeddedBroker({ authenticator: identity, port: 0 });
    // The cloud account may publish on any device's topic: enough to play devices, including one
    // that speaks for another in its payload.
    publisher = await connectAsync(broker.url, { username: 'edgeloop-cloud', password: CLOUD_SECRET });
    connection = await connectCloudMqtt({
      url: broker.url,
      username: 'edgeloop-cloud',
      password: CLOUD_SECRET,
    });
  }, 60_000);

  afterAll(async () => {
    await publisher?.endAsync(true);
    await connection?.close();
    await broker?.close();
    await database?.close();
  });

  const publish = (deviceId: string, payload: unknown) =>
    publisher.publishAsync(
      topics.samples(deviceId),
      typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
      { qos: 1 },
    );

  it('stores a batch next to telemetry ingestion, once, however often it is redelivered', async () => {
    await database.db.execute(sql`truncate fleet_samples, dead_letters, telemetry_windows`);
    // As the cloud composes them: telemetry ingestion and the bridge, then the samples consumer.
    const telemetry = await startTelemetryIngestion({
      db: database.db,
      connection,
      logger: silentLogger,
      bridge: { republishOnStart: false },
      ingest: { flushIntervalMs: 20 },
    });
    const worker = await startConsumer(database.db, connection);
    try {
      const batch = testBatch('cam-1', [
        testSample('s-1'),
        testSample('s-2', { label: 2, prediction: { classIndex: 0, confidence: 0.31 } }),
        testSample('s-3', { tensor: { shape: [3], data: encodeTensor([-1.5, 0, 2.25]) } }),
      ]);
      await publish('cam-1', batch);
      await publisher.publishAsync(topics.telemetry('cam-1'), JSON.stringify(telemetryWindow('cam-1', 1)), {
        qos: 1,
      });
      await until(async () => (await count(database.db, 'fleet_samples')) === 3, '3 samples');
      await until(async () => (await count(database.db, 'telemetry_windows')) === 1, 'the telemetry window');

      const rows = await database.db.select().from(fleetSamples).orderBy(asc(fleetSamples.sampleId));
      expect(rows.map((r) => [r.deviceId, r.sampleId, r.label, r.labelSource, r.labelledBy])).toEqual([
        ['cam-1', 's-1', null, null, null],
        ['cam-1', 's-2', 2, 'device', 'device:cam-1'],
        ['cam-1', 's-3', null, null, null],
      ]);
      const [first] = rows;
      expect(first).toMatchObject({
        modelName: 'digits',
        modelVersion: 1,
        variant: 'int8',
        windowSeq: 7,
        reason: 'low-confidence',
        predictedClass: 1,
        confidence: 0.42,
        shape: [1, 1, 2, 2],
      });
      expect(first?.capturedAt.getTime()).toBe(1_900_000_000_000);
      const third = Buffer.from(rows[2]?.tensor ?? []);
      expect([0, 1, 2].map((i) => third.readFloatLE(i * 4))).toEqual([-1.5, 0, 2.25]);

      // Redelivery (a lost PUBACK) and a device replaying part of its queue: nothing new.
      await publish('cam-1', batch);
      await publish('cam-1', testBatch('cam-1', [testSample('s-2'), testSample('s-4')]));
      await until(async () => (await worker.outcome('duplicate')) === 4, '4 duplicates');
      expect(await count(database.db, 'fleet_samples')).toBe(4);
      expect(await worker.outcome('stored')).toBe(4);
      // The device's label of s-2 stays: a redelivery never overwrites.
      const [s2] = await database.db.select().from(fleetSamples).where(eq(fleetSamples.sampleId, 's-2'));
      expect(s2?.label).toBe(2);
    } finally {
      await worker.consumer.stop();
      await telemetry.stop();
    }
  });

  it('dead-letters and counts bad batches with their reason, storing none of them', async () => {
    await database.db.execute(sql`truncate fleet_samples, dead_letters`);
    const worker = await startConsumer(database.db, connection);
    try {
      const good = testBatch('cam-2', [testSample('ok-1')]);
      const bad: Array<[string, unknown, string]> = [
        ['cam-2', '{"v":1,"deviceId":', 'MALFORMED_JSON'],
        ['cam-2', Buffer.from([0xff, 0xfe, 0x00]), 'MALFORMED_JSON'],
        ['cam-2', { ...good, v: 2 }, 'SCHEMA_VERSION_UNSUPPORTED'],
        ['cam-2', testBatch('cam-1', [testSample('spoof-1')]), 'DEVICE_MISMATCH'],
        [
          'cam-2',
          testBatch('cam-2', [
            testSample('fine'),
            testSample('short', { tensor: { shape: [1, 1, 2, 2], data: encodeTensor([1, 2, 3]) } }),
          ]),
          'TENSOR_INVALID',
        ],
        ['cam-2', testBatch('cam-2', [testSample('huge-seq', { windowSeq: 2 ** 31 })]), 'VALIDATION_FAILED'],
        ['cam-2', testBatch('cam-2', [testSample('bad id/with slash')]), 'VALIDATION_FAILED'],
        ['ghost', testBatch('ghost', [testSample('g-1'), testSample('g-2')]), 'NOT_FOUND'],
      ];
      for (const [device, payload] of bad) await publish(device, payload);
      await publish('cam-2', good);
      await until(async () => (await count(database.db, 'fleet_samples')) === 1, 'the good sample');
      await until(async () => (await count(database.db, 'dead_letters')) === bad.length, 'dead letters');

      const letters = await database.db
        .select({ code: deadLetters.code, deviceId: deadLetters.deviceId, reason: deadLetters.reason })
        .from(deadLetters)
        .orderBy(asc(deadLetters.id));
      expect(letters.map((l) => l.code)).toEqual(bad.map((b) => b[2]));
      expect(letters.find((l) => l.code === 'TENSOR_INVALID')?.reason).toMatch(
        /samples\.1 \(short\): tensor has 12 bytes, shape \[1, 1, 2, 2\] needs 16/,
      );
      expect(letters.find((l) => l.code === 'DEVICE_MISMATCH')?.reason).toMatch(/"cam-1" on cam-2's topic/);
      const [row] = await database.db.select().from(fleetSamples);
      expect(row?.sampleId).toBe('ok-1');
      // Samples whose batch was refused, by count when the batch could be parsed (1 when not):
      // 1 + 1 + 1 + 1 + 2 + 1 + 1 + 2.
      expect(await worker.outcome('rejected')).toBe(10);
      const dead = await worker.registry.getSingleMetric('edgeloop_mqtt_dead_letters_total')?.get();
      expect(
        dead?.values.filter((v) => v.labels['channel'] === 'samples').reduce((s, v) => s + v.value, 0),
      ).toBe(bad.length);
    } finally {
      await worker.consumer.stop();
    }
  });

  it('rate-limits each device on its own', async () => {
    await database.db.execute(sql`truncate fleet_samples, dead_letters`);
    const worker = await startConsumer(database.db, connection, {
      rateLimit: { perSecond: 0.001, burst: 2 },
    });
    try {
      for (let i = 1; i <= 4; i++) await publish('cam-1', testBatch('cam-1', [testSample(`r-${i}`)]));
      await publish('cam-2', testBatch('cam-2', [testSample('other')]));
      await until(async () => (await count(database.db, 'dead_letters')) === 2, '2 rate-limited batches');
      await until(async () => (await count(database.db, 'fleet_samples')) === 3, '3 samples');
      expect(await worker.outcome('rate_limited')).toBe(2);
      const codes = await database.db.select({ code: deadLetters.code }).from(deadLetters);
      expect(codes.map((c) => c.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    } finally {
      await worker.consumer.stop();
    }
  });

  it('keeps batches through a database outage and stores them once it is back', async () => {
    await database.db.execute(sql`truncate fleet_samples, dead_letters`);
    const outage = outageDb(database.db);
    const worker = await startConsumer(outage.db, connection, { retry: { initialMs: 10, maxMs: 40 } });
    try {
      outage.down = true;
      await publish('cam-1', testBatch('cam-1', [testSample('o-1'), testSample('o-2')]));
      await publish('cam-2', testBatch('cam-2', [testSample('o-3')]));
      await until(async () => outage.failures >= 3, 'failing writes');
      expect(await count(database.db, 'fleet_samples')).toBe(0);
      expect(await worker.outcome('lost')).toBe(0);
      outage.down = false;
      await until(async () => (await count(database.db, 'fleet_samples')) === 3, 'all 3 samples');
      expect(await worker.outcome('stored')).toBe(3);
    } finally {
      await worker.consumer.stop();
    }
  });
});

describe.skipIf(!MQTT_URL)('samples on Mosquitto through a shared subscription (MQTT_URL)', () => {
  const [target] = testDatabases().slice(-1); // PostgreSQL when DATABASE_URL is set, else PGlite
  const device = `smp-${randomBytes(4).toString('hex')}`;
  let database: Database;

  beforeAll(async () => {
    database = await (target as NonNullable<typeof target>).open();
    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
      hashIterations: 1,
    });
    await identity.provisionDevice({ id: device, deviceClass: 'simulated' });
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });

  it('two cloud processes store each batch exactly once', async () => {
    const url = MQTT_URL as string;
    const shareGroup = `samples${randomBytes(3).toString('hex')}`;
    const connections = await Promise.all([0, 1].map(() => connectCloudMqtt({ url })));
    const workers = await Promise.all(connections.map((c) => startConsumer(database.db, c, { shareGroup })));
    const publisher = await connectAsync(url, { protocolVersion: 5 });
    try {
      expect(connections.every((c) => c.supportsSharedSubscriptions)).toBe(true);
      for (let i = 0; i < 10; i++) {
        const payload = JSON.stringify(testBatch(device, [testSample(`m-${i}`)]));
        await publisher.publishAsync(topics.samples(device), payload, { qos: 1 });
      }
      await until(async () => (await count(database.db, 'fleet_samples')) === 10, '10 samples');
      const stored = await Promise.all(workers.map((w) => w.outcome('stored')));
      expect((stored[0] ?? 0) + (stored[1] ?? 0)).toBe(10);
    } finally {
      await publisher.endAsync(true);
      await Promise.all(workers.map((w) => w.consumer.stop()));
      await Promise.all(connections.map((c) => c.close()));
    }
  }, 30_000);
});
