// Leaves the shared Mosquitto as the bench found it. The agents publish retained `status` and
// `reported`, the cloud retained `desired`, for every device; Mosquitto persists them, and every later
// subscriber to `el/v1/dev/+/…` would receive thousands of messages about devices that are gone. The
// cloud also keeps a persistent session (1 h expiry) in its share group: left behind, it
// would keep queueing telemetry of the devices while nobody reads it.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { connectCloudMqtt } from '@edgeloop/cloud';
import { topics } from '@edgeloop/shared';

/** The client id `startCloud` uses for a data dir (cloud.ts `cloudClientId`). */
function cloudClientId(dataDir: string): string {
  const key = createHash('sha256')
    .update(`${hostname()}\0${resolve(dataDir)}`)
    .digest('hex');
  return `edgeloop-cloud-${key.slice(0, 16)}`;
}

/** Clears the devices' retained messages and ends the cloud's session; returns the topics cleared. */
export async function cleanUpBroker(
  mqttUrl: string,
  cloudDataDir: string,
  deviceIds: string[],
): Promise<number> {
  // A clean start under the cloud's client id discards the session it left.
  const session = await connectCloudMqtt({ url: mqttUrl, clientId: cloudClientId(cloudDataDir) });
  await session.close();
  const conn = await connectCloudMqtt({ url: mqttUrl });
  let cleared = 0;
  try {
    const pending: Promise<void>[] = [];
    for (const id of deviceIds) {
      for (const topic of [topics.status(id), topics.reported(id), topics.desired(id)]) {
        // An empty retained message deletes the retained one.
        pending.push(conn.publish(topic, '', { qos: 1, retain: true }));
        cleared++;
        if (pending.length >= 500) await Promise.all(pending.splice(0));
      }
    }
    await Promise.all(pending);
  } finally {
    await conn.close();
  }
  return cleared;
}
