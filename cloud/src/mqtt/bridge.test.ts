import {
  type DeviceStatus,
  desiredStatePayload,
  type ReportedState,
  type TelemetryWindowInput,
  topics,
} from '@edgeloop/shared';
import { eq } from 'drizzle-orm';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { deadLetters, devices } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { DeviceRegistry, firmwareDeviceClasses } from '../identity/device-registry.ts';
import { type MqttBridge as Bridge, MqttBridge, type MqttBridgeEvents } from './bridge.ts';
import { type CloudMqttConnection, connectCloudMqtt } from './connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './embedded-broker.ts';
import { collectMessages, uniqueSuffix } from './testing.ts';

const CLOUD_SECRET = 'bridge-test-cloud-secret';

const status = (state: 'online' | 'offline', bootId: string): DeviceStatus => ({
  v: 1,
  state,
  agentVersion: '0.1.0',
  profile: 'simulated',
  bootId,
  at: Date.now(),
});
const reported: ReportedState = {
  v: 1,
  generation: 0,
  rolloutId: null,
  active: null,
  previous: null,
  phase: { state: 'idle' },
  at: 1,
};
const telemetry = (deviceId: string, seq: number): TelemetryWindowInput => ({
  v: 1,
  deviceId,
  seq,
  windowStart: 1_000,
  windowEnd: 61_000,
  model: null,
  inferences: 10,
  errors: 1,
  latencyMs: { count: 10, min: 1, max: 9, mean: 3, p50: 2, p95: 8, p99: 9 },
  classCounts: [3, 7],
  meanConfidence: 0.9,
});

/** Resolves with the next emission of a bridge event that satisfies the predicate. */
function next<K extends keyof MqttBridgeEvents>(
  bridge: Bridge,
  event: K,
  predicate: (...args: MqttBridgeEvents[K]) => boolean = () => true,
) {
  return new Promise<MqttBridgeEvents[K]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(event)} event within 3 s`)), 3_000);
    const listener = (...args: MqttBridgeEvents[K]) => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      bridge.off(event, listener as never);
      resolve(args);
    };
    bridge.on(event, listener as never);
  });
}

describe.each(testDatabases())('MqttBridge on the embedded broker, $name', ({ open }) => {
  let handle: Database;
  let identity: DeviceRegistry;
  let broker: EmbeddedBroker;
  let connection: CloudMqttConnection;
  let bridge: MqttBridge;
  const metrics = new Registry();
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const secrets = new Map<string, string>();
  const clients: MqttClient[] = [];

  const device = async (id: string) => {
    const client = await connectAsync(broker.url, {
      username: id,
      password: secrets.get(id),
      clientId: id,
      reconnectPeriod: 0,
    });
    clients.push(client);
    return client;
  };
  const row = async (id: string) => (await handle.db.select().from(devices).where(eq(devices.id, id)))[0];

  beforeAll(async () => {
    handle = await open();
    identity = new DeviceRegistry({
      db: handle.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
    });
    for (const id of ['cam-1', 'cam-2'])
      secrets.set(
        id,
        (await identity.provisionDevice({ id, deviceClass: 'simulated' })).credentials.password,
      );
    broker = await startEmbeddedBroker({ authenticator: identity, port: 0 });
    connection = await connectCloudMqtt({
      url: broker.url,
      username: 'edgeloop-cloud',
      password: CLOUD_SECRET,
    });
    bridge = new MqttBridge({
      connection,
      db: handle.db,
      registry: metrics,
      now: () => clock,
      deadLetters: { rawLimit: 64, perSecond: 1_000 },
    });
    await bridge.start();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await bridge?.stop();
    await connection?.close();
    await broker?.close();
    await handle?.close();
  });

  it('subscribes to telemetry without $share on a 3.1.1 broker', () => {
    expect(connection.protocolVersion).toBe(4);
    expect(connection.supportsSharedSubscriptions).toBe(false);
  });

  it('records status: online, then ignores a stale offline will from an earlier boot', async () => {
    const cam = await device('cam-1');
    const online = next(bridge, 'status', (id) => id === 'cam-1');
    await cam.publishAsync(topics.status('cam-1'), JSON.stringify(status('online', 'boot-new')), {
      qos: 1,
      retain: true,
    });
    await online;
    expect(await row('cam-1')).toMatchObject({
      connection: 'online',
      bootId: 'boot-new',
      agentVersion: '0.1.0',
      lastSeenAt: new Date(clock),
    });

    const rejected: unknown[] = [];
    bridge.on('rejected', (l) => rejected.push(l));
    await cam.publishAsync(topics.status('cam-1'), JSON.stringify(status('offline', 'boot-old')), { qos: 1 });
    // a marker on the same connection: once reported arrives, the stale status has been processed
    const marker = next(bridge, 'reported', (id) => id === 'cam-1');
    await cam.publishAsync(topics.reported('cam-1'), JSON.stringify(reported), { qos: 1 });
    await marker;
    expect((await row('cam-1'))?.connection).toBe('online');
    expect(rejected).toEqual([]);

    const offline = next(bridge, 'status', (id, s) => id === 'cam-1' && s.state === 'offline');
    await cam.publishAsync(topics.status('cam-1'), JSON.stringify(status('offline', 'boot-new')), { qos: 1 });
    await offline;
    expect((await row('cam-1'))?.connection).toBe('offline');
  });

  it('stores reported state and emits it', async () => {
    const cam = await device('cam-2');
    const event = next(bridge, 'reported', (id) => id === 'cam-2');
    await cam.publishAsync(topics.reported('cam-2'), JSON.stringify({ ...reported, generation: 3 }), {
      qos: 1,
    });
    const [, value] = await event;
    expect(value.generation).toBe(3);
    expect((await row('cam-2'))?.reported).toMatchObject({ generation: 3, phase: { state: 'idle' } });
  });

  it('emits validated telemetry and touches last_seen', async () => {
    clock += 60_000;
    const cam = await device('cam-2');
    const event = next(bridge, 'telemetry', (id) => id === 'cam-2');
    await cam.publishAsync(topics.telemetry('cam-2'), JSON.stringify(telemetry('cam-2', 1)), { qos: 1 });
    const [, window] = await event;
    expect(window).toMatchObject({ seq: 1, inferences: 10, droppedWindows: 0 });
    // Refreshes are batched off the message path: wait for the queued one.
    await bridge.flushTouches();
    expect((await row('cam-2'))?.lastSeenAt).toEqual(new Date(clock));
  });

  it('dead-letters bad messages with stable codes, capped raw bytes, and emits nothing for them', async () => {
    const cam = await device('cam-2');
    const cloud = await connectAsync(broker.url, {
      username: 'edgeloop-cloud',
      password: CLOUD_SECRET,
      clientId: `inject-${uniqueSuffix()}`,
      reconnectPeriod: 0,
    });
    clients.push(cloud);
    const telemetrySeen: number[] = [];
    bridge.on('telemetry', (_id, w) => telemetrySeen.push(w.seq));
    const cases: Array<[MqttClient, string, string | Buffer, string]> = [
      [cam, topics.telemetry('cam-2'), JSON.stringify(telemetry('cam-1', 2)), 'DEVICE_MISMATCH'],
      [cam, topics.telemetry('cam-2'), '{"v":1,', 'MALFORMED_JSON'],
      [
        cam,
        topics.telemetry('cam-2'),
        JSON.stringify({ ...telemetry('cam-2', 3), v: 2 }),
        'SCHEMA_VERSION_UNSUPPORTED',
      ],
      [
        cam,
        topics.telemetry('cam-2'),
        JSON.stringify({ ...telemetry('cam-2', 4), errors: 11 }),
        'VALIDATION_FAILED',
      ],
      [cam, topics.telemetry('cam-2'), Buffer.alloc(17 * 1024, 0x20), 'PAYLOAD_TOO_LARGE'],
      [cam, topics.reported('cam-2'), JSON.stringify({ v: 1 }), 'VALIDATION_FAILED'],
      [cloud, topics.telemetry('ghost'), JSON.stringify(telemetry('ghost', 1)), 'NOT_FOUND'],
      [cloud, 'el/v1/dev/NOT_AN_ID/status', JSON.stringify(status('online', 'boot-x')), 'TOPIC_INVALID'],
    ];
    for (const [client, topic, payload, code] of cases) {
      const refused = next(bridge, 'rejected', (l) => l.topic === topic && l.code === code);
      await client.publishAsync(topic, payload, { qos: 1 });
      await refused;
    }
    expect(telemetrySeen).toEqual([]);
    const letters = await handle.db.select().from(deadLetters);
    expect(letters.map((l) => l.code)).toEqual(cases.map((c) => c[3]));
    const big = letters.find((l) => l.code === 'PAYLOAD_TOO_LARGE');
    expect(big?.rawBytes).toBe(17 * 1024);
    expect(big?.raw?.byteLength).toBe(64);
    expect(letters.find((l) => l.code === 'DEVICE_MISMATCH')).toMatchObject({
      deviceId: 'cam-2',
      source: 'mqtt',
      topic: topics.telemetry('cam-2'),
    });
    // no device row changed because of them
    expect((await row('cam-2'))?.reported).toMatchObject({ generation: 3 });
    const counted = (await metrics.getSingleMetric('edgeloop_mqtt_dead_letters_total')?.get())?.values ?? [];
    expect(counted.reduce((sum, v) => sum + v.value, 0)).toBe(cases.length);
  });

  it('publishes desired state retained at QoS 1 with increasing generations', async () => {
    const first = await bridge.publishDesired('cam-1', {
      rolloutId: 'r-1',
      model: null,
      config: { telemetryWindowSeconds: 30 },
    });
    const second = await bridge.publishDesired('cam-1', { rolloutId: 'r-2', model: null });
    expect([first.generation, second.generation]).toEqual([1, 2]);
    // a device that subscribes afterwards gets the latest, retained
    const cam = await device('cam-1');
    const inbox = collectMessages(cam);
    await cam.subscribeAsync(topics.desired('cam-1'), { qos: 1 });
    const message = await inbox.waitFor(() => true);
    const decoded = desiredStatePayload.decode(message.payload);
    expect(decoded).toMatchObject({ ok: true, value: { generation: 2, rolloutId: 'r-2', model: null } });
    expect(message.topic).toBe(topics.desired('cam-1'));
    expect(await row('cam-1')).toMatchObject({
      desiredGeneration: 2,
      desired: { generation: 2, rolloutId: 'r-2' },
    });
  });

  it('refuses an invalid desired state without burning a generation, and unknown devices', async () => {
    await expect(bridge.publishDesired('cam-1', { rolloutId: 'bad id!', model: null })).rejects.toMatchObject(
      { code: 'VALIDATION_FAILED' },
    );
    expect((await row('cam-1'))?.desiredGeneration).toBe(2);
    await expect(bridge.publishDesired('ghost', { rolloutId: null, model: null })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('publishes many desired states in one go, each device on its own', async () => {
    const before = (await row('cam-2'))?.desiredGeneration ?? 0;
    const cam = await device('cam-2');
    const inbox = collectMessages(cam);
    await cam.subscribeAsync(topics.desired('cam-2'), { qos: 1 });
    const results = await bridge.publishDesiredMany([
      { deviceId: 'cam-1', desired: { rolloutId: 'bad id!', model: null } },
      { deviceId: 'ghost', desired: { rolloutId: null, model: null } },
      {
        deviceId: 'cam-2',
        desired: { rolloutId: 'r-3', model: null, config: { telemetryWindowSeconds: 15 } },
      },
    ]);
    expect(results.map((r) => [r.deviceId, r.ok])).toEqual([
      ['cam-1', false],
      ['ghost', false],
      ['cam-2', true],
    ]);
    expect(results[0]).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect(results[1]).toMatchObject({ error: { code: 'NOT_FOUND' } });
    // the invalid one burnt no generation; the good one got the next and is stored and published
    expect((await row('cam-1'))?.desiredGeneration).toBe(2);
    expect(await row('cam-2')).toMatchObject({
      desiredGeneration: before + 1,
      desired: { generation: before + 1, rolloutId: 'r-3', config: { telemetryWindowSeconds: 15 } },
    });
    const message = await inbox.waitFor((m) => desiredStatePayload.decode(m.payload).ok);
    expect(desiredStatePayload.decode(message.payload)).toMatchObject({
      ok: true,
      value: { generation: before + 1, rolloutId: 'r-3' },
    });
  });

  it('restores retained desired states on a fresh broker from the database', async () => {
    const fresh = await startEmbeddedBroker({ authenticator: identity, port: 0 });
    const conn = await connectCloudMqtt({
      url: fresh.url,
      username: 'edgeloop-cloud',
      password: CLOUD_SECRET,
    });
    const restored = new MqttBridge({ connection: conn, db: handle.db });
    try {
      await restored.start();
      const cam = await connectAsync(fresh.url, {
        username: 'cam-1',
        password: secrets.get('cam-1'),
        clientId: 'cam-1',
        reconnectPeriod: 0,
      });
      clients.push(cam);
      const inbox = collectMessages(cam);
      await cam.subscribeAsync(topics.desired('cam-1'), { qos: 1 });
      const decoded = desiredStatePayload.decode((await inbox.waitFor(() => true)).payload);
      expect(decoded).toMatchObject({ ok: true, value: { generation: 2 } });
    } finally {
      await restored.stop();
      await conn.close();
      await fresh.close();
    }
  });

  it('stores only a bounded number of dead letters per second but counts them all', async () => {
    const limited = new MqttBridge({
      connection,
      db: handle.db,
      registry: new Registry(),
      now: () => clock,
      deadLetters: { perSecond: 2 },
    });
    const before = (await handle.db.select().from(deadLetters)).length;
    await bridge.stop(); // one consumer at a time on this connection
    await limited.start();
    try {
      const cam = await device('cam-2');
      let refused = 0;
      limited.on('rejected', () => refused++);
      for (let i = 0; i < 5; i++) await cam.publishAsync(topics.telemetry('cam-2'), 'garbage', { qos: 1 });
      const done = next(limited, 'telemetry');
      await cam.publishAsync(topics.telemetry('cam-2'), JSON.stringify(telemetry('cam-2', 9)), { qos: 1 });
      await done;
      expect(refused).toBe(5);
      expect((await handle.db.select().from(deadLetters)).length - before).toBe(2);
    } finally {
      await limited.stop();
      await bridge.start();
    }
  });
});
