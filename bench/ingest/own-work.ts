// `node --import tsx bench/ingest/own-work.ts [postgres|pglite] [windows] [--cpu-prof DIR]`: the
// cloud's own CPU per telemetry window (bridge → ingestor → batched write), without the broker or
// mqtt.js' socket work: synthetic PUBLISH packets are handed straight to the connection's
// `handleMessage`, one after the other, as mqtt.js does. Complements `pnpm bench ingest`, whose
// rates move with the load of a shared machine; CPU per window mostly does not.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import {
  type CloudMqttConnection,
  connectCloudMqtt,
  type Database,
  schema,
  silentLogger,
  startTelemetryIngestion,
  testDatabases,
} from '@edgeloop/cloud';
import { topicFilters, topics } from '@edgeloop/shared';
import { SimulatedFleet } from './simulated-fleet.ts';

type IPublishPacket = Parameters<CloudMqttConnection['client']['handleMessage']>[0];

const [driver = 'postgres', count = '40000'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const profIndex = process.argv.indexOf('--cpu-prof');
const profDir = profIndex > 0 ? process.argv[profIndex + 1] : undefined;
const windows = Number(count);
const devices = 200;

const dbs = testDatabases({
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
});
const database: Database = await (dbs.find((d) => d.name === driver) as { open(): Promise<Database> }).open();
const prefix = `o${randomBytes(3).toString('hex')}`;
await database.db
  .insert(schema.devices)
  .values(new SimulatedFleet(prefix, devices).ids.map((id) => ({ id, deviceClass: 'simulated' })));
const connection = await connectCloudMqtt({ url: process.env.MQTT_URL || 'mqtt://127.0.0.1:1883' });
const ingestion = await startTelemetryIngestion({
  db: database.db,
  connection,
  logger: silentLogger,
  bridge: { republishOnStart: false, shareGroup: `own${randomBytes(4).toString('hex')}` },
  ingest: { rateLimit: false },
  rollup: { intervalMs: 3_600_000 },
});
// Nothing from the broker: only our synthetic packets reach the bridge.
await connection.client
  .unsubscribeAsync([topicFilters.allDevices('status'), topicFilters.allDevices('reported')])
  .catch(() => {});

const fleet = new SimulatedFleet(prefix, devices);
const packets: IPublishPacket[] = Array.from({ length: windows }, (_, k) => {
  const { deviceId, payload } = fleet.window();
  return {
    cmd: 'publish',
    topic: topics.telemetry(deviceId),
    payload: Buffer.from(payload),
    qos: 1,
    messageId: (k % 65000) + 1,
    dup: false,
    retain: false,
  };
});

const stored = async () =>
  (await ingestion.registry.getSingleMetric('edgeloop_ingest_windows_total')?.get())?.values.find(
    (v) => v.labels.outcome === 'stored',
  )?.value ?? 0;

const session = new Session();
if (profDir) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
const started = performance.now();
const cpu = process.cpuUsage();
const handle = connection.client.handleMessage.bind(connection.client);
for (const packet of packets) {
  await new Promise<void>((resolve) => handle(packet, () => resolve()));
}
while ((await stored()) < windows) await new Promise((r) => setTimeout(r, 2));
const { user, system } = process.cpuUsage(cpu);
const elapsed = performance.now() - started;
if (profDir) {
  const { profile } = await session.post('Profiler.stop');
  await writeFile(`${profDir}/own-work-${driver}.cpuprofile`, JSON.stringify(profile));
}
console.log(
  `${driver}: ${windows} windows, ${Math.round(windows / (elapsed / 1000))}/s, cpu ${((user + system) / windows).toFixed(1)} µs/window, load ${loadavg()[0]?.toFixed(1)}`,
);
await ingestion.stop();
await connection.close();
await database.close();
