// Runs once before the test suite. On the real-server path (MQTT_URL set), the broker is shared
// with earlier runs: Mosquitto persists retained messages, so thousands of stale `el/v1/...` status
// and reported messages would be replayed to every test that subscribes to a device channel. Clear
// them first (publishing an empty retained payload deletes a retained message), as an operator
// would on a test broker.
import mqtt from 'mqtt';

const QUIET_MS = 1500;

export default async function clearRetainedMessages(): Promise<void> {
  const url = process.env.MQTT_URL;
  if (!url) return;
  const client = await mqtt.connectAsync(url, {
    clientId: `edgeloop-test-setup-${process.pid}`,
    clean: true,
  });
  const retained = new Set<string>();
  let last = Date.now();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain && payload.length > 0) retained.add(topic);
    last = Date.now();
  });
  await client.subscribeAsync('el/v1/#', { qos: 0 });
  while (Date.now() - last < QUIET_MS) await new Promise((r) => setTimeout(r, 200));
  for (const topic of retained) await client.publishAsync(topic, '', { qos: 1, retain: true });
  await client.endAsync();
  console.log(`global setup: cleared ${retained.size} retained message(s) under el/v1/ on ${url}`);
}
