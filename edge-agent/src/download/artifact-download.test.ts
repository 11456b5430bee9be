import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeloopError, encodeArtifactChunk } from '@edgeloop/shared';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../testing/fixtures.ts';
import { ArtifactDownload, type ArtifactDownloadOptions } from './artifact-download.ts';
import { ChunkBitmap } from './chunk-bitmap.ts';
import { DiskPartFile, type PartFile } from './part-file.ts';

const CHUNK = 1024;

function frames(artifact: Uint8Array, chunkSize = CHUNK, sha256 = sha256Hex(artifact)): Uint8Array[] {
  const total = Math.ceil(artifact.length / chunkSize);
  return Array.from({ length: total }, (_, index) =>
    encodeArtifactChunk({
      sha256,
      index,
      total,
      chunkSize,
      payload: artifact.subarray(index * chunkSize, (index + 1) * chunkSize),
    }),
  );
}

let dir: string;
const artifact = new Uint8Array(randomBytes(10 * CHUNK + 300)); // 11 chunks, the last one short
const sha256 = sha256Hex(artifact);
const options = (): ArtifactDownloadOptions => ({ dir, sha256, size: artifact.length, chunkSize: CHUNK });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'el-download-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ArtifactDownload', () => {
  it('assembles chunks arriving in any order with duplicates, then verifies the sha256', async () => {
    const progress: number[] = [];
    const download = new ArtifactDownload({
      ...options(),
      onProgress: (p) => progress.push(p.receivedChunks),
    });
    await download.start();
    const all = frames(artifact);
    const order = [5, 0, 10, 5, 3, 1, 2, 0, 4, 9, 8, 7, 6];
    const outcomes = [];
    for (const i of order) outcomes.push(await download.acceptFrame(all[i] as Uint8Array));
    expect(outcomes.filter((o) => o.status === 'duplicate')).toHaveLength(2);
    expect(outcomes.at(-1)).toEqual({ status: 'accepted', complete: true });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(download.counters).toMatchObject({ accepted: 11, duplicate: 2 });
    const path = await download.finish();
    expect(new Uint8Array(await readFile(path))).toEqual(artifact);
    expect(await download.acceptFrame(all[0] as Uint8Array)).toMatchObject({
      status: 'rejected',
      reason: 'finished',
    });
  });

  it('rejects and counts corrupt, foreign and misshapen frames without storing them', async () => {
    const download = new ArtifactDownload(options());
    await download.start();
    const good = frames(artifact);
    const flipped = (good[2] as Uint8Array).slice();
    flipped[100] = (flipped[100] ?? 0) ^ 0x10; // payload bit flip: CRC fails
    const results = [
      await download.acceptFrame(flipped),
      await download.acceptFrame((good[3] as Uint8Array).subarray(0, 500)), // truncated
      await download.acceptFrame(frames(new Uint8Array(randomBytes(CHUNK * 2)))[0] as Uint8Array), // other artifact
      await download.acceptFrame(frames(artifact, 2048, sha256)[0] as Uint8Array), // other chunk size
      await download.acceptFrame(
        encodeArtifactChunk({ sha256, index: 1, total: 11, chunkSize: CHUNK, payload: new Uint8Array(10) }),
      ),
    ];
    expect(results.map((r) => (r.status === 'rejected' ? r.reason : r.status))).toEqual([
      'corrupt',
      'corrupt',
      'wrong_artifact',
      'geometry_mismatch',
      'wrong_length',
    ]);
    expect(download.counters).toMatchObject({
      corrupt: 2,
      wrongArtifact: 1,
      geometryMismatch: 1,
      wrongLength: 1,
      accepted: 0,
    });
    expect(download.progress().receivedChunks).toBe(0);
    await download.stop();
  });

  it('reports missing chunks as inclusive ranges, capped', async () => {
    const download = new ArtifactDownload(options());
    await download.start();
    const all = frames(artifact);
    for (const i of [0, 1, 4, 7, 10]) await download.acceptFrame(all[i] as Uint8Array);
    expect(download.missingRanges()).toEqual([
      [2, 3],
      [5, 6],
      [8, 9],
    ]);
    expect(download.missingRanges(2)).toEqual([
      [2, 3],
      [5, 6],
    ]);
    await download.stop();
  });

  it('resumes after a kill from the files alone', async () => {
    const first = new ArtifactDownload(options());
    await first.start();
    const all = frames(artifact);
    for (const i of [0, 2, 4, 6, 8, 10]) await first.acceptFrame(all[i] as Uint8Array);
    // "kill": the first instance is abandoned without stop(); a new process opens the same folder.
    const second = new ArtifactDownload(options());
    expect(await second.start()).toEqual({ receivedChunks: 6, totalChunks: 11, complete: false });
    expect(second.missingRanges()).toEqual([
      [1, 1],
      [3, 3],
      [5, 5],
      [7, 7],
      [9, 9],
    ]);
    for (const i of [1, 3, 5, 7, 9]) await second.acceptFrame(all[i] as Uint8Array);
    expect(new Uint8Array(await readFile(await second.finish()))).toEqual(artifact);
    await first.stop();
    // A third start finds the verified artifact and is done at once.
    const third = new ArtifactDownload(options());
    expect((await third.start()).complete).toBe(true);
    expect(await third.finish()).toBe(second.artifactPath);
  });

  it('starts over from a truncated bitmap instead of trusting it', async () => {
    const first = new ArtifactDownload(options());
    await first.start();
    const all = frames(artifact);
    for (const i of [0, 1, 2]) await first.acceptFrame(all[i] as Uint8Array);
    await first.stop();
    const stored = await readFile(first.bitmapPath);
    await writeFile(first.bitmapPath, stored.subarray(0, stored.length - 3));
    const second = new ArtifactDownload(options());
    expect((await second.start()).receivedChunks).toBe(0);
    expect(second.counters.bitmapResets).toBe(1);
    for (const frame of all) await second.acceptFrame(frame);
    expect(new Uint8Array(await readFile(await second.finish()))).toEqual(artifact);
  });

  it('drops bits whose bytes a truncated partial file no longer holds', async () => {
    const first = new ArtifactDownload(options());
    await first.start();
    const all = frames(artifact);
    for (const i of [0, 1, 5]) await first.acceptFrame(all[i] as Uint8Array);
    await first.stop();
    await truncate(first.partPath, 2 * CHUNK);
    const second = new ArtifactDownload(options());
    expect((await second.start()).receivedChunks).toBe(2);
    expect(second.missingRanges()).toEqual([[2, 10]]);
    await second.stop();
  });

  it('fails with DISK_FULL when a write fails, without marking the chunk, and resumes cleanly', async () => {
    let writes = 0;
    const fullAfterTwo = async (path: string): Promise<PartFile> => {
      const real = await DiskPartFile.open(path);
      return {
        writeAt: async (bytes, offset) => {
          if (++writes > 2) {
            // A short write then ENOSPC, as a filling disk does.
            await real.writeAt(bytes.subarray(0, 100), offset);
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          }
          await real.writeAt(bytes, offset);
        },
        sync: () => real.sync(),
        size: () => real.size(),
        truncate: (n) => real.truncate(n),
        close: () => real.close(),
      };
    };
    const download = new ArtifactDownload({ ...options(), openPartFile: fullAfterTwo });
    await download.start();
    const all = frames(artifact);
    await download.acceptFrame(all[0] as Uint8Array);
    await download.acceptFrame(all[1] as Uint8Array);
    const failure = await download.acceptFrame(all[2] as Uint8Array).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(EdgeloopError);
    expect((failure as EdgeloopError).code).toBe('DISK_FULL');
    expect(download.progress().receivedChunks).toBe(2);
    await download.stop();

    // Space freed: a fresh instance resumes, re-requests chunk 2 and the result verifies.
    const resumed = new ArtifactDownload(options());
    expect(await resumed.start()).toMatchObject({ receivedChunks: 2 });
    expect(resumed.missingRanges()).toEqual([[2, 10]]);
    for (const frame of all.slice(2)) await resumed.acceptFrame(frame);
    expect(new Uint8Array(await readFile(await resumed.finish()))).toEqual(artifact);
  });

  it('wipes the download when the assembled file does not match its sha256', async () => {
    const download = new ArtifactDownload(options());
    await download.start();
    const impostor = new Uint8Array(randomBytes(artifact.length));
    for (const frame of frames(impostor, CHUNK, sha256)) await download.acceptFrame(frame); // valid CRCs, wrong bytes
    const failure = await download.finish().catch((err: unknown) => err);
    expect((failure as EdgeloopError).code).toBe('CHECKSUM_MISMATCH');
    expect(download.progress().receivedChunks).toBe(0);
    expect(download.counters.checksumFailures).toBe(1);
    for (const frame of frames(artifact)) await download.acceptFrame(frame);
    expect(new Uint8Array(await readFile(await download.finish()))).toEqual(artifact);
  });

  it('refuses to start when the disk cannot hold the artifact', async () => {
    const huge = new ArtifactDownload({ dir, sha256, size: 2 ** 53 - 1, chunkSize: 1024 * 1024 });
    const failure = await huge.start().catch((err: unknown) => err);
    expect((failure as EdgeloopError).code).toBe('DISK_FULL');
    await huge.stop();
  });

  it('drops copies of a chunk being written without queueing them, and commits a burst with one sync', async () => {
    let writes = 0;
    let syncs = 0;
    const counting = async (path: string): Promise<PartFile> => {
      const real = await DiskPartFile.open(path);
      return {
        writeAt: (bytes, offset) => {
          writes++;
          return real.writeAt(bytes, offset);
        },
        sync: () => {
          syncs++;
          return real.sync();
        },
        size: () => real.size(),
        truncate: (n) => real.truncate(n),
        close: () => real.close(),
      };
    };
    const download = new ArtifactDownload({ ...options(), openPartFile: counting });
    await download.start();
    const all = frames(artifact);
    // A shared topic under load: every chunk arrives three times before the first write is done.
    const burst = [...all, ...all, ...all].map((frame) => download.acceptFrame(frame));
    // Copies are answered at once from the frame header; only the first copy of each chunk waits.
    expect(download.counters.duplicate).toBe(2 * all.length);
    const outcomes = await Promise.all(burst);
    expect(outcomes.filter((o) => o.status === 'accepted')).toHaveLength(all.length);
    expect(download.counters).toMatchObject({ accepted: all.length, duplicate: 2 * all.length });
    expect(writes).toBe(all.length);
    expect(syncs).toBeLessThan(all.length);
    expect(download.progress().complete).toBe(true);
    expect(new Uint8Array(await readFile(await download.finish()))).toEqual(artifact);
  });

  it('assembles any order with any duplicates (property)', async () => {
    const small = new Uint8Array(randomBytes(5 * CHUNK + 17));
    const all = frames(small);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: all.length - 1 }), { maxLength: 20 }),
        fc.shuffledSubarray(
          all.map((_, i) => i),
          { minLength: all.length },
        ),
        async (duplicates, permutation) => {
          const runDir = await mkdtemp(join(dir, 'p-'));
          const download = new ArtifactDownload({
            dir: runDir,
            sha256: sha256Hex(small),
            size: small.length,
            chunkSize: CHUNK,
          });
          await download.start();
          const order = [...duplicates, ...permutation];
          for (const i of order) await download.acceptFrame(all[i] as Uint8Array);
          expect(new Uint8Array(await readFile(await download.finish()))).toEqual(small);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('ChunkBitmap', () => {
  it('round-trips and refuses another artifact', () => {
    const geometry = { sha256, size: 20_000, chunkSize: 1024 };
    const bitmap = new ChunkBitmap(geometry);
    for (const i of [0, 3, 19]) bitmap.set(i);
    const restored = ChunkBitmap.deserialize(bitmap.serialize(), geometry);
    expect(restored?.missingRanges()).toEqual(bitmap.missingRanges());
    expect(restored?.received).toBe(3);
    expect(ChunkBitmap.deserialize(bitmap.serialize(), { ...geometry, size: 20_001 })).toBeNull();
    expect(ChunkBitmap.deserialize(bitmap.serialize(), { ...geometry, sha256: 'f'.repeat(64) })).toBeNull();
  });
});
