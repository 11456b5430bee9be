// The partial artifact on disk, written at chunk offsets. Kept behind a small interface so tests can
// inject the failures real devices see (a full disk in the middle of a write).
import { type FileHandle, open } from 'node:fs/promises';
import { isNotFound } from '../durable-fs.ts';

export interface PartFile {
  writeAt(bytes: Uint8Array, offset: number): Promise<void>;
  /** Makes written data durable before the bitmap may claim it. */
  sync(): Promise<void>;
  size(): Promise<number>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export class DiskPartFile implements PartFile {
  private constructor(private readonly handle: FileHandle) {}

  /** Opens an existing partial file for resuming, or creates it. */
  static async open(path: string): Promise<DiskPartFile> {
    try {
      return new DiskPartFile(await open(path, 'r+'));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return new DiskPartFile(await open(path, 'w+'));
    }
  }

  async writeAt(bytes: Uint8Array, offset: number): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.handle.write(
        bytes,
        written,
        bytes.length - written,
        offset + written,
      );
      written += bytesWritten;
    }
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  async truncate(length: number): Promise<void> {
    await this.handle.truncate(length);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
