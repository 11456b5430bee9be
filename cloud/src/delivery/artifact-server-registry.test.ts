// The server with its defaults wired to the database (PGlite always, PostgreSQL when DATABASE_URL
// is set): only artifacts of registered model variants are served, malformed requests become dead
// letters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Database } from '../db/index.ts';
import { deadLetters } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { type CloudMqttConnection, connectCloudMqtt } from '../mqtt/connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from '../mqtt/embedded-broker.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { SigningKeys } from '../registry/signing-keys.ts';
import { CLASSES, registration } from '../registry/test-fixtures.ts';
import { ArtifactServer } from './artifact-server.ts';
import {
  acceptingAuthenticator,
  collectChunks,
  connectDevice,
  randomArtifact,
  requestChunks,
  sendRaw,
} from './testing.ts';

const waitOptions = { timeout: 5_000, interval: 10 };

describe.each(testDatabases())('ArtifactServer with the model registry, $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let broker: EmbeddedBroker;
  let connection: CloudMqttConnection;
  let server: ArtifactServer;
  let device: MqttClient;
  let store: FsArtifactStore;
  let registered: { sha256: string; bytes: number };

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-delivery-db-'));
    store = new FsArtifactStore(join(dir, 'artifacts'));
    const models = new ModelRegistry({ db: database.db, store, signer: SigningKeys.generate() });
    await models.createModel({ name: 'digits', classes: CLASSES });
    const version = await models.registerVersion(registration('digits', 1, {}, ['fp32']));
    const variant = version.variants[0];
    if (!variant) throw new Error('registration returned no variant');
    registered = { sha256: variant.sha256, bytes: variant.size };
    broker = await startEmbeddedBroker({ authenticator: acceptingAuthenticator, port: 0 });
    connection = await connectCloudMqtt({ url: broker.url, username: 'edgeloop-cloud', password: 'x' });
    server = new ArtifactServer({
      connection,
      store,
      db: database.db,
      chunkSizes: [1024],
      registry: new Registry(),
    });
    await server.start();
    device = await connectDevice(broker.url, 'cam-db');
  });
  afterAll(async () => {
    await device?.endAsync();
    await server?.stop();
    await connection?.close();
    await broker?.close();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a registered variant and refuses a blob that is only in the store', async () => {
    const received = await collectChunks(device, registered.sha256);
    const total = Math.ceil(registered.bytes / 1024);
    await requestChunks(device, 'cam-db', {
      sha256: registered.sha256,
      chunkSize: 1024,
      ranges: [[0, total - 1]],
    });
    await vi.waitFor(() => expect(received.frames).toHaveLength(total), waitOptions);
    const served = Buffer.concat(received.frames.sort((a, b) => a.index - b.index).map((f) => f.payload));
    expect(served).toEqual(Buffer.from(await store.get(registered.sha256)));

    const stray = await store.put(randomArtifact(2048));
    await requestChunks(device, 'cam-db', { sha256: stray.sha256, chunkSize: 1024, ranges: [[0, 1]] });
    await vi.waitFor(() => expect(server.stats().requests.not_entitled).toBe(1), waitOptions);
    await server.drained();
    expect(server.stats().chunksPublished).toBe(total);
  });

  it('keeps a malformed request as a dead letter', async () => {
    await sendRaw(device, 'cam-db', '{"v":1,"sha256":"nope"}');
    await vi.waitFor(() => expect(server.stats().requests.malformed).toBe(1), waitOptions);
    const rows = await database.db.select().from(deadLetters).where(eq(deadLetters.deviceId, 'cam-db'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      source: 'mqtt',
      topic: 'el/v1/dev/cam-db/artifact/req',
      code: 'VALIDATION_FAILED',
      rawBytes: 23,
    });
  });
});
