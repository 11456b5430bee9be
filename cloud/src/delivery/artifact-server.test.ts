// The artifact server against the embedded aedes broker, with artifacts in a real filesystem store.
// The republish interval and rate limits read an injected clock, so no test waits for them to pass;
// a publish held back by the interval waits for a real timer of the length the clock gives it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_HEADER_BYTES, topics } from '@edgeloop/shared';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CloudMqttConnection, connectCloudMqtt } from '../mqtt/connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from '../mqtt/embedded-broker.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ArtifactServer, type ArtifactServerOptions } from './artifact-server.ts';
import { everyStoredArtifact } from './entitlement.ts';
import {
  acceptingAuthenticator,
  collectChunks,
  connectDevice,
  randomArtifact,
  requestChunks,
  sendRaw,
} from './testing.ts';

const CHUNK = 1024;
/** Five chunks, the last 724 bytes. */
const SIZE = 4 * CHUNK + 724;
const waitOptions = { timeout: 5_000, interval: 10 };

describe('ArtifactServer on the embedded broker', () => {
  let dir: string;
  let store: FsArtifactStore;
  let broker: EmbeddedBroker;
  let connection: CloudMqttConnection;
  let server: ArtifactServer | undefined;
  let clock: number;
  let bytes: Uint8Array;
  let sha256: string;
  const devices: MqttClient[] = [];
  let deviceCount = 0;

  const start = async (options: Partial<ArtifactServerOptions> = {}) => {
    server = new ArtifactServer({
      connection,
      store,
      isEntitled: everyStoredArtifact,
      chunkSizes: [CHUNK],
      registry: new Registry(),
      now: () => clock,
      ...options,
    });
    await server.start();
    return server;
  };
  const device = async () => {
    const id = `cam-${++deviceCount}`;
    const client = await connectDevice(broker.url, id);
    devices.push(client);
    return { id, client };
  };
  const expectedFrameBytes = (indices: number[]) =>
    indices.reduce((sum, i) => sum + CHUNK_HEADER_BYTES + Math.min(CHUNK, SIZE - i * CHUNK), 0);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-delivery-'));
    store = new FsArtifactStore(join(dir, 'artifacts'));
    broker = await startEmbeddedBroker({ authenticator: acceptingAuthenticator, port: 0 });
    connection = await connectCloudMqtt({ url: broker.url, username: 'edgeloop-cloud', password: 'x' });
  });
  afterAll(async () => {
    await connection.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    clock = 1_000_000;
    // A fresh artifact per test: its own sha256, so its own chunk topics.
    bytes = randomArtifact(SIZE);
    sha256 = (await store.put(bytes)).sha256;
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await Promise.all(devices.splice(0).map((c) => c.endAsync()));
  });

  it('answers a device with exactly the chunks it asked for, decodable and matching the artifact', async () => {
    const s = await start();
    const { id, client } = await device();
    const received = await collectChunks(client, sha256);
    await requestChunks(client, id, {
      sha256,
      chunkSize: CHUNK,
      ranges: [
        [0, 1],
        [3, 9],
      ],
    });

    await vi.waitFor(() => expect(received.frames).toHaveLength(4), waitOptions);
    await s.drained();
    expect(received.corrupt).toBe(0);
    expect(received.frames.map((f) => f.index).sort()).toEqual([0, 1, 3, 4]);
    for (const frame of received.frames) {
      expect(frame).toMatchObject({ sha256, total: 5, chunkSize: CHUNK });
      expect(frame.payload).toEqual(bytes.subarray(frame.index * CHUNK, (frame.index + 1) * CHUNK));
    }
    expect(received.frames.find((f) => f.index === 4)?.payload.length).toBe(724);
    const stats = s.stats();
    expect(stats.requests.served).toBe(1);
    expect(stats.chunksPublished).toBe(4);
    expect(stats.bytesPublished).toBe(expectedFrameBytes([0, 1, 3, 4]));
  });

  it('publishes each chunk at most twice when 20 devices ask for the same artifact at once', async () => {
    const s = await start({ republishIntervalMs: 50 });
    const fleet = await Promise.all(Array.from({ length: 20 }, () => device()));
    const received = await Promise.all(fleet.map(({ client }) => collectChunks(client, sha256)));
    await Promise.all(
      fleet.map(({ id, client }) =>
        requestChunks(client, id, { sha256, chunkSize: CHUNK, ranges: [[0, 4]] }),
      ),
    );

    await vi.waitFor(() => expect(s.stats().requests.served).toBe(20), waitOptions);
    await s.drained();
    await vi.waitFor(() => expect(received.every((r) => r.frames.length >= 5)).toBe(true), waitOptions);
    for (const r of received) {
      expect(r.frames.map((f) => f.index).sort()).toEqual([0, 1, 2, 3, 4]);
      expect(Buffer.concat(r.frames.sort((a, b) => a.index - b.index).map((f) => f.payload))).toEqual(
        Buffer.from(bytes),
      );
    }
    // Requests seen before a chunk's PUBACK share its publish; those after it share one held-back
    // publish (the server cannot tell them from a device that subscribed after the chunk went out).
    const stats = s.stats();
    expect(stats.chunksPublished).toBeGreaterThanOrEqual(5);
    expect(stats.chunksPublished).toBeLessThanOrEqual(10);
    expect(stats.chunksPublished + stats.chunkRequestsCoalesced).toBe(20 * 5);
    expect(stats.bytesPublished).toBeLessThanOrEqual(2 * (SIZE + 5 * CHUNK_HEADER_BYTES)); // not 20 × the artifact
  });

  it('lets requests that arrive while a publish awaits its PUBACK share it', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated: CloudMqttConnection = {
      ...connection,
      async publish(topic, payload, options) {
        await gate;
        await connection.publish(topic, payload, options);
      },
    };
    const s = await start({ connection: gated });
    const [a, b] = [await device(), await device()];
    const [aChunks, bChunks] = [await collectChunks(a.client, sha256), await collectChunks(b.client, sha256)];
    await requestChunks(a.client, a.id, { sha256, chunkSize: CHUNK, ranges: [[1, 1]] });
    await vi.waitFor(() => expect(s.stats().inFlight).toBe(1), waitOptions);
    await requestChunks(b.client, b.id, { sha256, chunkSize: CHUNK, ranges: [[1, 1]] });
    await vi.waitFor(() => expect(s.stats().requests.served).toBe(2), waitOptions);
    release();
    await s.drained();
    await vi.waitFor(() => expect(bChunks.frames).toHaveLength(1), waitOptions);
    expect(aChunks.frames).toHaveLength(1);
    expect(s.stats()).toMatchObject({ chunksPublished: 1, chunkRequestsCoalesced: 1 });
  });

  it('answers a device that subscribed after the publish, once per interval for all who ask', async () => {
    const s = await start({ republishIntervalMs: 200 });
    const first = await device();
    const firstChunks = await collectChunks(first.client, sha256);
    await requestChunks(first.client, first.id, { sha256, chunkSize: CHUNK, ranges: [[2, 2]] });
    await vi.waitFor(() => expect(firstChunks.frames).toHaveLength(1), waitOptions);
    await s.drained();

    // A device that subscribed after the publish missed it. Its request, right after the publish,
    // is held back for the interval (a real 200 ms: the clock stands still) and then answered; a
    // third device asking meanwhile shares that publish.
    const late = await device();
    const lateChunks = await collectChunks(late.client, sha256);
    await requestChunks(late.client, late.id, { sha256, chunkSize: CHUNK, ranges: [[2, 2]] });
    const later = await device();
    const laterChunks = await collectChunks(later.client, sha256);
    await requestChunks(later.client, later.id, { sha256, chunkSize: CHUNK, ranges: [[2, 2]] });
    await vi.waitFor(() => expect(s.stats().requests.served).toBe(3), waitOptions);
    expect(s.stats()).toMatchObject({ chunksPublished: 1, chunkRequestsCoalesced: 1 });
    await s.drained();
    await vi.waitFor(() => expect(lateChunks.frames).toHaveLength(1), waitOptions);
    await vi.waitFor(() => expect(laterChunks.frames).toHaveLength(1), waitOptions);
    expect(lateChunks.frames[0]?.payload).toEqual(bytes.subarray(2 * CHUNK, 3 * CHUNK));
    let stats = s.stats();
    expect(stats).toMatchObject({ chunksPublished: 2, chunkRequestsCoalesced: 1 });
    expect(stats.cache).toMatchObject({ hits: 1, misses: 1, frames: 1 }); // the resend came from the cache

    // Once the interval has passed since the last publish, a request is answered at once.
    clock += 200;
    await requestChunks(late.client, late.id, { sha256, chunkSize: CHUNK, ranges: [[2, 2]] });
    await vi.waitFor(() => expect(lateChunks.frames).toHaveLength(2), waitOptions);
    await s.drained();
    stats = s.stats();
    expect(stats).toMatchObject({ chunksPublished: 3, chunkRequestsCoalesced: 1 });
    expect(firstChunks.frames).toHaveLength(3); // the broker fanned every resend out to it too
  });

  it('counts and drops malformed, unknown, out-of-range and wrong-geometry requests', async () => {
    const s = await start();
    const { id, client } = await device();
    const received = await collectChunks(client, sha256);
    const unknownSha = 'f'.repeat(64);
    await sendRaw(client, id, 'not json');
    await sendRaw(client, id, JSON.stringify({ v: 1, sha256: 'x', chunkSize: CHUNK, ranges: [[0, 0]] }));
    await sendRaw(client, id, JSON.stringify({ v: 2, sha256, chunkSize: CHUNK, ranges: [[0, 0]] }));
    await requestChunks(client, id, { sha256: unknownSha, chunkSize: CHUNK, ranges: [[0, 0]] });
    await requestChunks(client, id, {
      sha256,
      chunkSize: CHUNK,
      ranges: [
        [0, 1],
        [5, 7],
      ],
    });
    await requestChunks(client, id, { sha256, chunkSize: 2 * CHUNK, ranges: [[0, 0]] });
    // A valid request last: requests are handled and chunks published in order, so once its frame
    // arrives anything the refused requests had published would have arrived before it.
    await requestChunks(client, id, { sha256, chunkSize: CHUNK, ranges: [[4, 4]] });

    await vi.waitFor(() => expect(received.frames).toHaveLength(1), waitOptions);
    await s.drained();
    expect(received.frames.map((f) => f.index)).toEqual([4]);
    expect(s.stats().requests).toEqual({
      served: 1,
      overloaded: 0,
      malformed: 3,
      rate_limited: 0,
      bad_chunk_size: 1,
      unknown_artifact: 1,
      not_entitled: 0,
      out_of_range: 1,
    });
    expect(s.stats().chunksPublished).toBe(1);
  });

  it('drops a flood from one device without starving the others', async () => {
    const s = await start({ rateLimit: { burst: 5, perSecond: 1 }, republishIntervalMs: 50 });
    const flooder = await device();
    const polite = await device();
    const received = await collectChunks(flooder.client, sha256);
    const ask = (who: { id: string; client: MqttClient }, index: number) =>
      requestChunks(who.client, who.id, { sha256, chunkSize: CHUNK, ranges: [[index, index]] });
    for (let i = 0; i < 5; i++) await ask(flooder, 0);
    for (let i = 1; i <= 4; i++) for (let n = 0; n < 3; n++) await ask(flooder, i);
    await vi.waitFor(() => expect(s.stats().requests.rate_limited).toBe(12), waitOptions);

    await ask(polite, 3);
    await vi.waitFor(() => expect(s.stats().requests.served).toBe(6), waitOptions);
    await s.drained();
    const indices = () => [...new Set(received.frames.map((f) => f.index))].sort();
    await vi.waitFor(() => expect(indices()).toEqual([0, 3]), waitOptions);
    // Chunk 0 goes out once, or twice if some of the flooder's repeats came after its PUBACK.
    const { chunksPublished, chunkRequestsCoalesced } = s.stats();
    expect(chunksPublished).toBeLessThanOrEqual(3);
    expect(chunksPublished + chunkRequestsCoalesced).toBe(6);
    expect(s.stats().requests).toMatchObject({ served: 6, rate_limited: 12 });

    clock += 1_000; // one token back
    await ask(flooder, 1);
    await vi.waitFor(() => expect(indices()).toEqual([0, 1, 3]), waitOptions);
  });

  it('sheds chunks past a full queue and keeps at most maxInFlight publishes awaiting their ack', async () => {
    let active = 0;
    let peak = 0;
    const counted: CloudMqttConnection = {
      ...connection,
      async publish(topic, payload, options) {
        peak = Math.max(peak, ++active);
        try {
          await connection.publish(topic, payload, options);
        } finally {
          active--;
        }
      },
    };
    const s = await start({ connection: counted, maxInFlight: 1, maxQueuedChunks: 2 });
    const { id, client } = await device();
    const received = await collectChunks(client, sha256);
    await requestChunks(client, id, { sha256, chunkSize: CHUNK, ranges: [[0, 4]] });
    await vi.waitFor(() => expect(s.stats().requests.overloaded).toBe(1), waitOptions);
    await s.drained();
    expect(s.stats()).toMatchObject({ chunksPublished: 3, chunksShed: 2 });

    // Shed chunks were never sent, so asking again for what is missing gets them at once.
    await requestChunks(client, id, { sha256, chunkSize: CHUNK, ranges: [[3, 4]] });
    await vi.waitFor(() => expect(received.frames).toHaveLength(5), waitOptions);
    await s.drained();
    expect(received.frames.map((f) => f.index)).toEqual([0, 1, 2, 3, 4]);
    expect(s.stats()).toMatchObject({ chunksPublished: 5, chunksShed: 2, chunkRequestsCoalesced: 0 });
    expect(peak).toBe(1);
  });

  it('honours a pluggable entitlement check', async () => {
    const s = await start({ isEntitled: (deviceId) => deviceId !== 'cam-banned' });
    const banned = await connectDevice(broker.url, 'cam-banned');
    devices.push(banned);
    const { id, client } = await device();
    await requestChunks(banned, 'cam-banned', { sha256, chunkSize: CHUNK, ranges: [[0, 0]] });
    await requestChunks(client, id, { sha256, chunkSize: CHUNK, ranges: [[0, 0]] });
    await vi.waitFor(() => expect(s.stats().requests.served).toBe(1), waitOptions);
    expect(s.stats().requests.not_entitled).toBe(1);
  });

  it('stops cleanly: hands the message handler back and serves nothing more', async () => {
    const original = connection.client.handleMessage;
    const s = await start();
    expect(connection.client.handleMessage).not.toBe(original);
    await s.stop();
    expect(connection.client.handleMessage).toBe(original);
    // An observer on the request topic proves the broker routed the request; the server, unsubscribed, never sees it.
    const watcher = await connectCloudMqtt({ url: broker.url, username: 'edgeloop-cloud', password: 'x' });
    const seen = new Promise<void>((resolve) => watcher.client.once('message', () => resolve()));
    await watcher.subscribe([topics.artifactRequest('cam-late')], 1);
    const late = await connectDevice(broker.url, 'cam-late');
    devices.push(late);
    await requestChunks(late, 'cam-late', { sha256, chunkSize: CHUNK, ranges: [[0, 0]] });
    await seen;
    await watcher.close();
    expect(s.stats().requests.served).toBe(0);
  });
});
