// Model artifacts, content-addressed: a blob's name is the sha256 of its bytes, so a name always
// means the same bytes, storing twice is a no-op and any reader can check what it got. The registry
// codes against `ArtifactStore`; the filesystem store below is the default, an S3-compatible one
// can follow behind the same interface.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream as fsCreateReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { EdgeloopError, SHA256_PATTERN } from '@edgeloop/shared';

export interface StoredArtifact {
  sha256: string;
  size: number;
}

/** A byte range, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ArtifactStore {
  /** Stores `bytes` under their sha256. Idempotent; `created` is false when they were already there. */
  put(bytes: Uint8Array): Promise<StoredArtifact & { created: boolean }>;
  /** The whole artifact; re-hashed unless `verify: false`. NOT_FOUND, CHECKSUM_MISMATCH. */
  get(sha256: string, options?: { verify?: boolean }): Promise<Uint8Array>;
  has(sha256: string): Promise<boolean>;
  stat(sha256: string): Promise<StoredArtifact | undefined>;
  /** Part of an artifact (not verified: chunk frames carry their own checksums). */
  readRange(sha256: string, range: ByteRange): Promise<Uint8Array>;
  createReadStream(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Every stored artifact with the time it was last stored (for garbage collection). */
  list(): AsyncIterable<StoredArtifact & { storedAt: Date }>;
  /** Removes an artifact. Only the registry's sweep of unreferenced blobs calls this. */
  delete(sha256: string): Promise<void>;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Names reach the filesystem: anything but 64 lowercase hex is refused before it becomes a path. */
function checkedSha256(sha256: string): string {
  if (!SHA256_PATTERN.test(sha256)) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `not a sha256 artifact id: ${JSON.stringify(sha256.slice(0, 80))}`,
    );
  }
  return sha256;
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * Artifacts under `<root>/<first two hex>/<sha256>`, read-only once written. A write goes to a temp
 * file in `<root>/tmp`, is fsynced and renamed into place, and the directory is fsynced, so a crash
 * leaves either the whole artifact or none of it under its name.
 */
export class FsArtifactStore implements ArtifactStore {
  readonly root: string;

  /** `root` is usually `<dataDir>/artifacts`. */
  constructor(root: string) {
    this.root = root;
  }

  pathOf(sha256: string): string {
    const name = checkedSha256(sha256);
    return join(this.root, name.slice(0, 2), name);
  }

  async put(bytes: Uint8Array): Promise<StoredArtifact & { created: boolean }> {
    const sha256 = sha256Hex(bytes);
    const path = this.pathOf(sha256);
    const existing = await this.stat(sha256);
    if (existing !== undefined && existing.size === bytes.length) {
      // Storing again counts as storing now: a sweep of old unreferenced blobs must not delete bytes
      // a registration in progress has just been promised.
      const now = new Date();
      await utimes(path, now, now);
      return { ...existing, created: false };
    }

    const tempDir = join(this.root, 'tmp');
    await mkdir(tempDir, { recursive: true });
    await mkdir(dirname(path), { recursive: true });
    const temp = join(tempDir, `${sha256}.${randomBytes(6).toString('hex')}`);
    try {
      const handle = await open(temp, 'wx', 0o444);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Same bytes under the same name, so replacing a concurrent writer's file is harmless.
      await rename(temp, path);
      await syncDirectory(dirname(path));
    } catch (error) {
      await rm(temp, { force: true });
      if (isErrno(error, 'ENOSPC')) {
        throw new EdgeloopError(
          'DISK_FULL',
          `no space left to store artifact ${sha256} (${bytes.length} bytes)`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    return { sha256, size: bytes.length, created: true };
  }

  async get(sha256: string, options: { verify?: boolean } = {}): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.pathOf(sha256)));
    } catch (error) {
      if (isErrno(error, 'ENOENT'))
        throw new EdgeloopError('NOT_FOUND', `artifact ${sha256} is not in the store`);
      throw error;
    }
    if (options.verify !== false) {
      const actual = sha256Hex(bytes);
      if (actual !== sha256) {
        throw new EdgeloopError(
          'CHECKSUM_MISMATCH',
          `artifact ${sha256} is corrupted on disk (its bytes hash to ${actual})`,
          {
            details: { expected: sha256, actual },
          },
        );
      }
    }
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async stat(sha256: string): Promise<StoredArtifact | undefined> {
    try {
      const info = await stat(this.pathOf(sha256));
      return { sha256, size: info.size };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  async readRange(sha256: string, range: ByteRange): Promise<Uint8Array> {
    const size = await this.sizeOrThrow(sha256);
    checkRange(range, size, sha256);
    const handle = await open(this.pathOf(sha256), 'r');
    try {
      const out = new Uint8Array(range.end - range.start);
      let filled = 0;
      while (filled < out.length) {
        const { bytesRead } = await handle.read(out, filled, out.length - filled, range.start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled !== out.length)
        throw new EdgeloopError('CHECKSUM_MISMATCH', `artifact ${sha256} is shorter than recorded`);
      return out;
    } finally {
      await handle.close();
    }
  }

  async createReadStream(sha256: string, range?: ByteRange): Promise<Readable> {
    const size = await this.sizeOrThrow(sha256);
    if (range === undefined) return fsCreateReadStream(this.pathOf(sha256));
    checkRange(range, size, sha256);
    if (range.end === range.start) return Readable.from([]);
    // fs streams take an inclusive end.
    return fsCreateReadStream(this.pathOf(sha256), { start: range.start, end: range.end - 1 });
  }

  async *list(): AsyncIterable<StoredArtifact & { storedAt: Date }> {
    const fanout = await readdir(this.root).catch((error: unknown) => {
      if (isErrno(error, 'ENOENT')) return [] as string[];
      throw error;
    });
    for (const dir of fanout.filter((d) => /^[0-9a-f]{2}$/.test(d)).sort()) {
      for (const name of (await readdir(join(this.root, dir))).sort()) {
        if (!SHA256_PATTERN.test(name) || !name.startsWith(dir)) continue;
        const info = await stat(join(this.root, dir, name)).catch(() => undefined);
        if (info !== undefined) yield { sha256: name, size: info.size, storedAt: info.mtime };
      }
    }
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  private async sizeOrThrow(sha256: string): Promise<number> {
    const info = await this.stat(sha256);
    if (info === undefined) throw new EdgeloopError('NOT_FOUND', `artifact ${sha256} is not in the store`);
    return info.size;
  }
}

function checkRange(range: ByteRange, size: number, sha256: string): void {
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > size) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `range ${start}..${end} is outside artifact ${sha256} (${size} bytes)`,
    );
  }
}

/** Makes a rename durable: the new directory entry survives a power cut only once the directory is synced. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
