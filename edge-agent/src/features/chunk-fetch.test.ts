import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ArtifactRequest, artifactRequestPayload } from '@edgeloop/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArtifactDownload } from '../download/artifact-download.ts';
import { AgentEventBus } from '../event-bus.ts';
import { silentLogger } from '../log.ts';
import { sha256Hex } from '../testing/fixtures.ts';
import { fetchChunks, limitRanges } from './chunk-fetch.ts';

/** A connection that records requests and never answers: the quiet-timeout paths. */
function silentConnection() {
  const requests: ArtifactRequest[] = [];
  const connection = {
    connected: true,
    async publish(_topic: string, payload: Uint8Array) {
      const decoded = artifactRequestPayload.decode(payload);
      if (decoded.ok) requests.push(decoded.value);
    },
    async subscribe() {},
    async unsubscribe() {},
  };
  return { connection, requests };
}

describe('limitRanges', () => {
  it('keeps the first n chunks of a range list', () => {
    expect(
      limitRanges(
        [
          [0, 2],
          [5, 9],
          [12, 12],
        ],
        5,
      ),
    ).toEqual([
      [0, 2],
      [5, 6],
    ]);
    expect(limitRanges([[3, 3]], 10)).toEqual([[3, 3]]);
  });
});

describe('fetchChunks quiet timeout', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'el-fetch-'));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await rm(dir, { recursive: true, force: true });
  });

  async function setup() {
    const artifact = new Uint8Array(randomBytes(10 * 1024));
    const download = new ArtifactDownload({
      dir,
      sha256: sha256Hex(artifact),
      size: artifact.length,
      chunkSize: 1024,
    });
    await download.start();
    const bus = new AgentEventBus();
    const { connection, requests } = silentConnection();
    return { download, bus, connection, requests, sha256: sha256Hex(artifact) };
  }

  it('asks again after each quiet period and fails with TIMEOUT after the bound', async () => {
    const { download, bus, connection, requests, sha256 } = await setup();
    const fetching = fetchChunks({
      deviceId: 'cam-1',
      download,
      sha256,
      chunkSize: 1024,
      connection,
      bus,
      signal: new AbortController().signal,
      quietMs: 1000,
      maxQuietRetries: 3,
      windowChunks: 4,
      logger: silentLogger,
    });
    const outcome = fetching.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.ranges).toEqual([[0, 3]]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(requests).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    await download.stop();
  });

  it('does not count quiet periods while disconnected, and asks again on reconnect', async () => {
    const { download, bus, connection, requests, sha256 } = await setup();
    const fetching = fetchChunks({
      deviceId: 'cam-1',
      download,
      sha256,
      chunkSize: 1024,
      connection,
      bus,
      signal: new AbortController().signal,
      quietMs: 1000,
      maxQuietRetries: 2,
      windowChunks: 4,
      logger: silentLogger,
    });
    const outcome = fetching.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(0);
    connection.connected = false;
    bus.emit('disconnected', { reason: 'test' });
    await vi.advanceTimersByTimeAsync(60_000); // a long outage: no retries spent, no failure
    expect(requests).toHaveLength(1);
    connection.connected = true;
    bus.emit('connected', { sessionPresent: false, reconnects: 1 });
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(requests).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    await download.stop();
  });

  it('stops at once when aborted', async () => {
    const { download, bus, connection, sha256 } = await setup();
    const abort = new AbortController();
    const fetching = fetchChunks({
      deviceId: 'cam-1',
      download,
      sha256,
      chunkSize: 1024,
      connection,
      bus,
      signal: abort.signal,
      quietMs: 1000,
      maxQuietRetries: 2,
      windowChunks: 4,
      logger: silentLogger,
    });
    abort.abort(new Error('superseded'));
    await expect(fetching).rejects.toThrow('superseded');
    await download.stop();
  });
});
