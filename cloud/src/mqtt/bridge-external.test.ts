import { type TelemetryWindowInput, topics } from '@edgeloop/shared';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { testDatabases } from '../db/testing.ts';

const pglite = testDatabases()[0]!;

import { DeviceRegistry, firmwareDeviceClasses } from '../identity/device-registry.ts';
import { MqttBridge } from './bridge.ts';
import { type CloudMqttConnection, connectCloudMqtt } from './connection.ts';
import { uniqueSuffix } from './testing.ts';

/**
 * The bridge against the external broker CI provides (MQTT_URL: an anonymous Mosquitto), so only
 * what needs no authentication: MQTT 5 shared subscriptions splitting telemetry between two cloud
 * processes. Device ids and the share group are unique per run, so parallel runs never collide.
 */
const MQTT_URL = process.env.MQTT_URL;

const window = (deviceId: string, seq: number): TelemetryWindowInput => ({
  v: 1,
  deviceId,
  seq,
  windowStart: 0,
  windowEnd: 60_000,
  model: null,
  inferences: 1,
  errors: 0,
  latencyMs: null,
  classCounts: [1],
  meanConfidence: null,
});

describe.skipIf(!MQTT_URL)('MqttBridge on the external broker (MQTT_URL)', () => {
  const run = uniqueSuffix();
  const deviceIds = [`ext-a-${run}`, `ext-b-${run}`];
  let handle: Database;
  const connections: CloudMqttConnection[] = [];
  const bridges: MqttBridge[] = [];
  let device: MqttClient;

  beforeAll(async () => {
    handle = await pglite.open(); // identity is not under test here: one driver is enough
    const identity = new DeviceRegistry({
      db: handle.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: 'unused-on-anonymous-broker' },
    });
    for (const id of deviceIds) await identity.provisionDevice({ id, deviceClass: 'simulated' });
    for (let i = 0; i < 2; i++) {
      const connection = await connectCloudMqtt({ url: MQTT_URL ?? '' });
      connections.push(connection);
      const bridge = new MqttBridge({
        connection,
        db: handle.db,
        shareGroup: `t${run}`.slice(0, 32),
        republishOnStart: false,
      });
      await bridge.start();
      bridges.push(bridge);
    }
    device = await connectAsync(MQTT_URL ?? '', { clientId: `dev-${run}`, reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await device?.endAsync();
    for (const b of bridges) await b.stop();
    for (const c of connections) await c.close();
    await handle?.close();
  });

  it('splits telemetry between two bridges in one share group: each window is handled exactly once', async () => {
    expect(connections.every((c) => c.supportsSharedSubscriptions)).toBe(true);
    const seen = bridges.map(() => [] as string[]);
    for (const [i, bridge] of bridges.entries()) {
      bridge.on('telemetry', (id, w) => {
        if (deviceIds.includes(id)) seen[i]?.push(`${id}#${w.seq}`);
      });
    }
    const sent: string[] = [];
    for (let seq = 0; seq < 20; seq++) {
      const id = deviceIds[seq % 2] ?? '';
      await device.publishAsync(topics.telemetry(id), JSON.stringify(window(id, seq)), { qos: 1 });
      sent.push(`${id}#${seq}`);
    }
    const deadline = Date.now() + 3_000;
    while (seen.flat().length < sent.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(seen.flat().sort()).toEqual([...sent].sort());
    expect(seen.every((s) => s.length > 0)).toBe(true);
  });
});
