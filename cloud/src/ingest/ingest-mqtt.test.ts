// Ingestion behind the real MQTT path: a device publishes, the bridge validates, the ingestor
// writes. Embedded broker (aedes) on both database drivers; two ingest workers sharing telemetry
// through an MQTT 5 shared subscription on the external Mosquitto when MQTT_URL is set.
import { randomBytes } from 'node:crypto';
import { topics } from '@edgeloop/shared';
import { sql } from 'drizzle-orm';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, queryRows } from '../db/index.ts';
import { deadLetters } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { DeviceRegistry, firmwareDeviceClasses } from '../identity/device-registry.ts';
import { MqttBridge } from '../mqtt/bridge.ts';
import { type CloudMqttConnection, connectCloudMqtt } from '../mqtt/connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from '../mqtt/embedded-broker.ts';
import { TelemetryIngestor, type TelemetryIngestorOptions } from './telemetry-ingestor.ts';
import { flakyDb, telemetryWindow } from './testing.ts';

const CLOUD_SECRET = 'ingest-test-cloud-secret';
const MQTT_URL = process.env['MQTT_URL'];

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const countRows = async (database: Database, table: 'telemetry_windows' | 'dead_letters') =>
  (await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from ${sql.raw(table)}`))[0]
    ?.n ?? 0;

/** One cloud ingest process: its own connection, bridge and ingestor. */
async function startWorker(
  database: Database,
  url: string,
  options: Partial<TelemetryIngestorOptions> & { shareGroup?: string; auth?: boolean } = {},
) {
  const registry = new Registry();
  const connection: CloudMqttConnection = await connectCloudMqtt({
    url,
    ...(options.auth === false ? {} : { username: 'edgeloop-cloud', password: CLOUD_SECRET }),
  });
  const bridge = new MqttBridge({
    connection,
    db: database.db,
    registry,
    republishOnStart: false,
    deadLetters: { perSecond: 10_000 },
    ...(options.shareGroup ? { shareGroup: options.shareGroup } : {}),
  });
  const ingestor = new TelemetryIngestor({
    db: database.db,
    source: bridge,
    connection,
    registry,
    flushIntervalMs: 20,
    ...options,
  });
  ingestor.start(); // its ack hold is in place before the first telemetry arrives
  let rejected = 0;
  bridge.on('rejected', () => {
    rejected++;
  });
  await bridge.start();
  return {
    registry,
    /** Refused messages so far (on a shared broker: other runs' retained status and reports). */
    rejected: () => rejected,
    ingestor,
    bridge,
    async outcome(name: string): Promise<number> {
      const metric = await registry.getSingleMetric('edgeloop_ingest_windows_total')?.get();
      return metric?.values.find((v) => v.labels['outcome'] === name)?.value ?? 0;
    },
    async stop() {
      await bridge.stop();
      await ingestor.stop();
      await connection.close();
    },
  };
}

describe.each(testDatabases())('ingestion over the embedded broker, $name', ({ open }) => {
  let database: Database;
  let broker: EmbeddedBroker;
  let publisher: MqttClient;

  beforeAll(async () => {
    database = await open();
    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
    });
    for (const id of ['cam-1', 'cam-2']) await identity.provisionDevice({ id, deviceClass: 'simulated' });
    broker = await startEmbeddedBroker({ authenticator: identity, port: 0 });
    // The cloud account may publish on any device's topic: enough to play devices here, including
    // one that lies about its id in the payload.
    publisher = await connectAsync(broker.url, { username: 'edgeloop-cloud', password: CLOUD_SECRET });
  }, 60_000);

  afterAll(async () => {
    await publisher?.endAsync(true);
    await broker?.close();
    await database?.close();
  });

  const publish = (deviceId: string, payload: string | Buffer) =>
    publisher.publishAsync(topics.telemetry(deviceId), payload, { qos: 1 });

  it('stores every good window once and dead-letters bad input with its reason, never crashing', async () => {
    await database.db.execute(sql`truncate telemetry_windows, dead_letters`);
    const worker = await startWorker(database, broker.url, { batchSize: 16 });
    try {
      const good = (seq: number) => JSON.stringify(telemetryWindow('cam-1', seq));
      // Out of order, with redeliveries, interleaved with garbage.
      const seqs = [5, 1, 2, 2, 9, 3, 4, 1, 6, 8, 7, 10, 10];
      const bad: Array<[string, string | Buffer, string]> = [
        ['cam-1', '{"v":1,"deviceId":', 'MALFORMED_JSON'],
        ['cam-1', JSON.stringify({ ...telemetryWindow('cam-1', 100), v: 2 }), 'SCHEMA_VERSION_UNSUPPORTED'],
        ['cam-1', JSON.stringify(telemetryWindow('cam-2', 101)), 'DEVICE_MISMATCH'],
        [
          'cam-1',
          JSON.stringify(
            telemetryWindow('cam-1', 102, {
              latencyMs: { count: 1, min: -1, p50: 1, p95: 1, p99: 1, max: 1, mean: 1 },
            }),
          ),
          'VALIDATION_FAILED',
        ],
        [
          'cam-1',
          JSON.stringify(telemetryWindow('cam-1', 103)).replace(
            '"inferences":100',
            '"inferences":9007199254740993',
          ),
          'VALIDATION_FAILED',
        ],
        ['cam-1', JSON.stringify({ ...telemetryWindow('cam-1', 104), errors: 1e6 }), 'VALIDATION_FAILED'],
        ['ghost', JSON.stringify(telemetryWindow('ghost', 1)), 'NOT_FOUND'],
        ['cam-1', Buffer.from([0xff, 0xfe, 0x00]), 'MALFORMED_JSON'],
      ];
      for (let i = 0; i < seqs.length; i++) {
        await publish('cam-1', good(seqs[i] as number));
        const b = bad[i];
        if (b) await publish(b[0], b[1]);
      }
      await publish('cam-2', JSON.stringify(telemetryWindow('cam-2', 1)));
      await until(async () => (await countRows(database, 'telemetry_windows')) === 11, '11 stored windows');
      await until(async () => (await countRows(database, 'dead_letters')) === bad.length, 'dead letters');
      await worker.ingestor.drain();
      const seqRows = await queryRows<{ device_id: string; seq: string }>(
        database.db,
        sql`select device_id, seq from telemetry_windows order by device_id, seq`,
      );
      expect(seqRows.map((r) => `${r.device_id}:${Number(r.seq)}`)).toEqual([
        ...Array.from({ length: 10 }, (_, i) => `cam-1:${i + 1}`),
        'cam-2:1',
      ]);
      const codes = (await database.db.select({ code: deadLetters.code }).from(deadLetters))
        .map((r) => r.code)
        .sort();
      expect(codes).toEqual(bad.map((b) => b[2]).sort());
      expect(await worker.outcome('stored')).toBe(11);
      expect(await worker.outcome('duplicate')).toBe(3);
    } finally {
      await worker.stop();
    }
  });

  it('withholds acknowledgements while the database is down, so the broker keeps the rest', async () => {
    await database.db.execute(sql`truncate telemetry_windows, dead_letters`);
    const flaky = flakyDb(database.db);
    flaky.down = true;
    const worker = await startWorker({ ...database, db: flaky.db }, broker.url, {
      batchSize: 5,
      maxBuffered: 10,
      retry: { initialMs: 10, maxMs: 50 },
    });
    try {
      for (let seq = 1; seq <= 40; seq++)
        await publish('cam-2', JSON.stringify(telemetryWindow('cam-2', seq)));
      await until(async () => flaky.failures >= 3, 'failing writes');
      await new Promise((r) => setTimeout(r, 200));
      // The bridge consumed only what fits in the buffer (plus the one held at the gate).
      const accepted = (
        await worker.registry.getSingleMetric('edgeloop_mqtt_bridge_messages_total')?.get()
      )?.values
        .filter((v) => v.labels['outcome'] === 'accepted')
        .reduce((sum, v) => sum + v.value, 0);
      expect(worker.ingestor.bufferedWindows).toBe(10);
      expect(accepted).toBeLessThanOrEqual(11);
      flaky.down = false;
      await until(async () => (await countRows(database, 'telemetry_windows')) === 40, 'all 40 windows');
      expect(await worker.outcome('stored')).toBe(40);
    } finally {
      await worker.stop();
    }
  });
});

describe.skipIf(!MQTT_URL)('two ingest workers sharing telemetry on Mosquitto (MQTT_URL)', () => {
  const [target] = testDatabases().slice(-1); // PostgreSQL when DATABASE_URL is set, else PGlite
  const run = randomBytes(4).toString('hex');
  const devices = Array.from({ length: 10 }, (_, i) => `shr-${run}-${i}`);
  let database: Database;

  beforeAll(async () => {
    database = await (target as typeof testDatabases extends () => (infer T)[] ? T : never).open();
    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
    });
    for (const id of devices) await identity.provisionDevice({ id, deviceClass: 'simulated' });
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });

  it('stores each window exactly once, with both workers taking a share', async () => {
    const url = MQTT_URL as string;
    const workers = await Promise.all(
      [0, 1].map(() =>
        startWorker(database, url, { auth: false, shareGroup: `ingest${run}`, batchSize: 50 }),
      ),
    );
    const publisher = await connectAsync(url, { protocolVersion: 5 });
    try {
      // A shared Mosquitto keeps other runs' retained status/reported messages; the bridges refuse
      // them one by one on subscribe. Publishing into that backlog could overflow the broker's
      // per-client queue (1000), so wait until it has drained.
      let seen = -1;
      await until(async () => {
        const now = workers.reduce((sum, w) => sum + w.rejected(), 0);
        const quiet = now === seen;
        seen = now;
        await new Promise((r) => setTimeout(r, 500));
        return quiet;
      }, 'the retained backlog to drain');
      const perDevice = 100;
      const sends: Promise<unknown>[] = [];
      for (let seq = 1; seq <= perDevice; seq++) {
        for (const id of devices) {
          const payload = JSON.stringify(telemetryWindow(id, seq));
          sends.push(publisher.publishAsync(topics.telemetry(id), payload, { qos: 1 }));
          // Every tenth window is sent twice, as a device does when a PUBACK was lost.
          if (seq % 10 === 0) sends.push(publisher.publishAsync(topics.telemetry(id), payload, { qos: 1 }));
        }
      }
      await Promise.all(sends);
      const expected = devices.length * perDevice;
      await until(
        async () => (await countRows(database, 'telemetry_windows')) >= expected,
        `${expected} windows`,
        30_000,
      );
      await Promise.all(workers.map((w) => w.ingestor.drain()));
      const [row] = await queryRows<{ n: number; distinct: number }>(
        database.db,
        sql`select count(*)::int as n, count(distinct (device_id, seq))::int as distinct from telemetry_windows`,
      );
      expect(row).toEqual({ n: expected, distinct: expected });
      const stored = await Promise.all(workers.map((w) => w.outcome('stored')));
      const duplicates = await Promise.all(workers.map((w) => w.outcome('duplicate')));
      expect(stored[0]).toBeGreaterThan(0);
      expect(stored[1]).toBeGreaterThan(0);
      expect((stored[0] ?? 0) + (stored[1] ?? 0)).toBe(expected);
      expect((duplicates[0] ?? 0) + (duplicates[1] ?? 0)).toBe(devices.length * (perDevice / 10));
    } finally {
      await publisher.endAsync(true);
      await Promise.all(workers.map((w) => w.stop()));
    }
  }, 60_000);
});
