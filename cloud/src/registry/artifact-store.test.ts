import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsArtifactStore, sha256Hex } from './artifact-store.ts';

describe('FsArtifactStore', () => {
  let root: string;
  let store: FsArtifactStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'edgeloop-artifacts-'));
    store = new FsArtifactStore(join(root, 'artifacts'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores bytes under their sha256 in a two-hex fan-out directory, read-only', async () => {
    const bytes = randomBytes(1000);
    const stored = await store.put(bytes);
    expect(stored).toEqual({ sha256: sha256Hex(bytes), size: 1000, created: true });
    const path = join(root, 'artifacts', stored.sha256.slice(0, 2), stored.sha256);
    expect(store.pathOf(stored.sha256)).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o444);
    expect(await store.get(stored.sha256)).toEqual(new Uint8Array(bytes));
    expect(await store.has(stored.sha256)).toBe(true);
    expect(await store.stat(stored.sha256)).toEqual({ sha256: stored.sha256, size: 1000 });
    expect(await readdir(join(root, 'artifacts', 'tmp'))).toEqual([]); // no temp file left behind
  });

  it('deduplicates: the same bytes stored again, even concurrently, are one file', async () => {
    const bytes = randomBytes(64 * 1024);
    const results = await Promise.all([1, 2, 3, 4].map(() => store.put(bytes)));
    expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
    expect((await store.put(bytes)).created).toBe(false);
    const sha = results[0]!.sha256;
    expect(await readdir(join(root, 'artifacts', sha.slice(0, 2)))).toEqual([sha]);
    expect(await store.get(sha)).toEqual(new Uint8Array(bytes));
  });

  it('detects bytes corrupted on disk when reading, unless asked not to verify', async () => {
    const { sha256 } = await store.put(Uint8Array.from([1, 2, 3, 4]));
    await chmod(store.pathOf(sha256), 0o644);
    await writeFile(store.pathOf(sha256), Uint8Array.from([1, 2, 3, 5]));
    await expect(store.get(sha256)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(await store.get(sha256, { verify: false })).toEqual(Uint8Array.from([1, 2, 3, 5]));
  });

  it('reads ranges and streams the same bytes as slices of the artifact', async () => {
    const bytes = new Uint8Array(randomBytes(10_000));
    const { sha256 } = await store.put(bytes);
    for (const [start, end] of [
      [0, 10_000],
      [0, 1],
      [4096, 8192],
      [9_999, 10_000],
      [500, 500],
    ] as const) {
      expect(await store.readRange(sha256, { start, end })).toEqual(bytes.slice(start, end));
      expect(new Uint8Array(await buffer(await store.createReadStream(sha256, { start, end })))).toEqual(
        bytes.slice(start, end),
      );
    }
    expect(new Uint8Array(await buffer(await store.createReadStream(sha256)))).toEqual(bytes);
    await expect(store.readRange(sha256, { start: 9_000, end: 10_001 })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(store.readRange(sha256, { start: 5, end: 4 })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('answers NOT_FOUND for an unknown artifact and refuses names that are not a sha256', async () => {
    const missing = 'f'.repeat(64);
    expect(await store.has(missing)).toBe(false);
    expect(await store.stat(missing)).toBeUndefined();
    await expect(store.get(missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.readRange(missing, { start: 0, end: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    for (const bad of ['../../etc/passwd', 'F'.repeat(64), 'a'.repeat(63), `${'a'.repeat(62)}/x`]) {
      await expect(store.get(bad)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });
});
