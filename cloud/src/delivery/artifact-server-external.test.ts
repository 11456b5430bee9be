// Fan-out against the external broker CI provides (MQTT_URL: an anonymous Mosquitto, MQTT 5), where
// the server takes requests through a shared subscription. Device ids, the share group and the
// artifact (random, so its sha256 and chunk topics) are unique per run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_HEADER_BYTES } from '@edgeloop/shared';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CloudMqttConnection, connectCloudMqtt } from '../mqtt/connection.ts';
import { uniqueSuffix } from '../mqtt/testing.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ArtifactServer } from './artifact-server.ts';
import { everyStoredArtifact } from './entitlement.ts';
import { collectChunks, randomArtifact, requestChunks } from './testing.ts';

const MQTT_URL = process.env.MQTT_URL;
const CHUNK = 1024;
const SIZE = 8 * CHUNK + 100;

describe.skipIf(!MQTT_URL)('ArtifactServer on the external broker (MQTT_URL)', () => {
  const run = uniqueSuffix();
  let dir: string;
  let connection: CloudMqttConnection;
  let server: ArtifactServer;
  const devices: MqttClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-delivery-ext-'));
    connection = await connectCloudMqtt({ url: MQTT_URL ?? '' });
    server = new ArtifactServer({
      connection,
      store: new FsArtifactStore(join(dir, 'artifacts')),
      isEntitled: everyStoredArtifact,
      chunkSizes: [CHUNK],
      shareGroup: `a${run}`.slice(0, 32),
      registry: new Registry(),
      now: () => 0, // a standing clock: any publish held back waits the interval in real time
      republishIntervalMs: 50,
    });
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.endAsync()));
    await server?.stop();
    await connection?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes each chunk at most twice for 20 devices asking at once', async () => {
    expect(connection.supportsSharedSubscriptions).toBe(true);
    await server.start();
    const store = new FsArtifactStore(join(dir, 'artifacts'));
    const bytes = randomArtifact(SIZE);
    const { sha256 } = await store.put(bytes);
    const ids = Array.from({ length: 20 }, (_, i) => `ext-${run}-${i}`.slice(0, 64));
    for (const id of ids)
      devices.push(await connectAsync(MQTT_URL ?? '', { clientId: id, reconnectPeriod: 0 }));
    const received = await Promise.all(devices.map((d) => collectChunks(d, sha256)));
    await Promise.all(
      devices.map((d, i) => requestChunks(d, ids[i] ?? '', { sha256, chunkSize: CHUNK, ranges: [[0, 8]] })),
    );

    await vi.waitFor(() => expect(server.stats().requests.served).toBe(20), {
      timeout: 10_000,
      interval: 20,
    });
    await server.drained();
    await vi.waitFor(() => expect(received.every((r) => r.frames.length >= 9)).toBe(true), {
      timeout: 10_000,
      interval: 20,
    });
    for (const r of received)
      expect(r.frames.map((f) => f.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // Requests seen before a chunk's PUBACK share its publish; any after it share one more.
    const stats = server.stats();
    expect(stats.chunksPublished).toBeGreaterThanOrEqual(9);
    expect(stats.chunksPublished).toBeLessThanOrEqual(18);
    expect(stats.chunksPublished + stats.chunkRequestsCoalesced).toBe(20 * 9);
    expect(stats.bytesPublished).toBeLessThanOrEqual(2 * (SIZE + 9 * CHUNK_HEADER_BYTES));
  });
});
