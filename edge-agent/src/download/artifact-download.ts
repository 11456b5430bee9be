// Assembles one artifact from chunk frames that arrive in any order, any number of times, possibly
// across restarts. On disk: `<sha>.part` (chunks written at their offsets) and `<sha>.chunks` (the
// bitmap). A bit is persisted only after its chunk's bytes are fsync'd, so after a crash every set
// bit is backed by data; a lost bit only costs a re-request. The whole-file sha256 is checked at the
// end, and the verified file is renamed to `<sha>.artifact`.
import { readFile, rename, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArtifactChunk, decodeArtifactChunk, EdgeloopError, peekArtifactChunk } from '@edgeloop/shared';
import { diskError, fsyncDir, isNotFound, SerialQueue, writeFileAtomic } from '../durable-fs.ts';
import { sha256File } from '../verify.ts';
import { type ArtifactGeometry, ChunkBitmap, type ChunkRange, chunkLength } from './chunk-bitmap.ts';
import { DiskPartFile, type PartFile } from './part-file.ts';

export interface ArtifactDownloadOptions extends ArtifactGeometry {
  /** Folder for this device's downloads (created by the caller). */
  dir: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** Seam for fault injection; defaults to a real file. */
  openPartFile?: (path: string) => Promise<PartFile>;
}

export interface DownloadProgress {
  receivedChunks: number;
  totalChunks: number;
  complete: boolean;
}

export type ChunkRejection = 'corrupt' | 'wrong_artifact' | 'geometry_mismatch' | 'wrong_length' | 'finished';

export type ChunkOutcome =
  | { status: 'accepted'; complete: boolean }
  | { status: 'duplicate' }
  | { status: 'rejected'; reason: ChunkRejection; message: string };

/** Counted, never thrown: bad frames are expected on a shared topic and are simply re-requested. */
export interface DownloadCounters {
  accepted: number;
  duplicate: number;
  corrupt: number;
  wrongArtifact: number;
  geometryMismatch: number;
  wrongLength: number;
  /** Whole-file sha256 failures after all chunks arrived (the download restarts). */
  checksumFailures: number;
  /** Bitmaps found damaged or inconsistent with the partial file at resume. */
  bitmapResets: number;
}

interface PendingChunk {
  chunk: ArtifactChunk;
  resolve: (outcome: ChunkOutcome) => void;
  reject: (err: unknown) => void;
}

export class ArtifactDownload {
  readonly partPath: string;
  readonly bitmapPath: string;
  /** Where the verified artifact ends up. */
  readonly artifactPath: string;
  readonly counters: DownloadCounters = {
    accepted: 0,
    duplicate: 0,
    corrupt: 0,
    wrongArtifact: 0,
    geometryMismatch: 0,
    wrongLength: 0,
    checksumFailures: 0,
    bitmapResets: 0,
  };
  #bitmap: ChunkBitmap;
  #part: PartFile | null = null;
  #finished = false;
  readonly #queue = new SerialQueue();
  /** Chunks handed in and not yet committed; their indices (when valid) are in `#writing`. */
  #batch: PendingChunk[] = [];
  readonly #writing = new Set<number>();

  constructor(private readonly options: ArtifactDownloadOptions) {
    if (!/^[0-9a-f]{64}$/.test(options.sha256)) {
      throw new EdgeloopError('VALIDATION_FAILED', 'sha256 must be 64 lowercase hex characters');
    }
    if (
      !Number.isSafeInteger(options.size) ||
      options.size <= 0 ||
      !Number.isSafeInteger(options.chunkSize) ||
      options.chunkSize <= 0
    ) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `invalid artifact geometry: size ${options.size}, chunk size ${options.chunkSize}`,
      );
    }
    this.partPath = join(options.dir, `${options.sha256}.part`);
    this.bitmapPath = join(options.dir, `${options.sha256}.chunks`);
    this.artifactPath = join(options.dir, `${options.sha256}.artifact`);
    this.#bitmap = new ChunkBitmap(options);
  }

  /** Resumes from the files a previous run left, or starts empty. */
  start(): Promise<DownloadProgress> {
    return this.#queue.run(async () => {
      if (this.#part || this.#finished) return this.progress(); // already started
      if (await this.#existingArtifactIsValid()) {
        for (let i = 0; i < this.#bitmap.total; i++) this.#bitmap.set(i);
        this.#finished = true;
        return this.progress();
      }
      try {
        this.#part = await (this.options.openPartFile ?? DiskPartFile.open)(this.partPath);
        await this.#restoreBitmap(this.#part);
      } catch (err) {
        throw diskError(err, `opening download of ${this.options.sha256}`);
      }
      await this.#checkFreeSpace();
      return this.progress();
    });
  }

  async #existingArtifactIsValid(): Promise<boolean> {
    try {
      const { sha256, size } = await sha256File(this.artifactPath);
      if (sha256 === this.options.sha256 && size === this.options.size) return true;
      await rm(this.artifactPath, { force: true });
    } catch (err) {
      if (!isNotFound(err)) throw diskError(err, `checking ${this.artifactPath}`);
    }
    return false;
  }

  async #restoreBitmap(part: PartFile): Promise<void> {
    let stored: Uint8Array | null = null;
    try {
      stored = await readFile(this.bitmapPath);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const partSize = await part.size();
    if (stored === null) {
      if (partSize > 0) this.counters.bitmapResets++; // data without a bitmap cannot be trusted
      return;
    }
    const restored = ChunkBitmap.deserialize(stored, this.options);
    if (!restored) {
      this.counters.bitmapResets++;
      return;
    }
    // A bit whose bytes are beyond the end of the partial file (file truncated by a bad disk or a
    // careless operator) is dropped: the chunk is simply asked for again.
    let dropped = 0;
    for (let i = 0; i < restored.total; i++) {
      if (restored.has(i) && i * this.options.chunkSize + chunkLength(this.options, i) > partSize) {
        restored.clear(i);
        dropped++;
      }
    }
    if (dropped > 0) this.counters.bitmapResets++;
    this.#bitmap = restored;
  }

  async #checkFreeSpace(): Promise<void> {
    const needed = this.options.size - this.#bitmap.received * this.options.chunkSize;
    let free: number;
    try {
      const stats = await statfs(this.options.dir);
      free = stats.bavail * stats.bsize;
    } catch {
      return; // not every file system reports free space; writes will still fail loudly
    }
    if (free < needed) {
      throw new EdgeloopError(
        'DISK_FULL',
        `artifact needs ${needed} more bytes, ${free} free in ${this.options.dir}`,
        {
          details: { needed, free },
        },
      );
    }
  }

  progress(): DownloadProgress {
    return {
      receivedChunks: this.#bitmap.received,
      totalChunks: this.#bitmap.total,
      complete: this.#bitmap.complete,
    };
  }

  /** Chunks still to request, as inclusive ranges (at most `maxRanges`). */
  missingRanges(maxRanges = 64): ChunkRange[] {
    return this.#bitmap.missingRanges(maxRanges);
  }

  /**
   * Decodes a raw frame from `el/v1/art/{sha256}/{chunk}` and stores its chunk. A frame of a chunk
   * already stored or being written is counted as a duplicate from its header alone, before the CRC
   * and without queueing: on the shared topic most frames answer other devices' requests, and holding
   * each until its turn in the write queue is what made a simulated fleet grow without bound.
   */
  acceptFrame(frame: Uint8Array): Promise<ChunkOutcome> {
    const header = peekArtifactChunk(frame);
    if (header && header.sha256 === this.options.sha256 && this.#heldOrWriting(header.index)) {
      return Promise.resolve(this.#duplicate());
    }
    const decoded = decodeArtifactChunk(frame);
    if (!decoded.ok) {
      this.counters.corrupt++;
      return Promise.resolve({
        status: 'rejected',
        reason: 'corrupt',
        message: `${decoded.error}: ${decoded.reason}`,
      });
    }
    return this.acceptChunk(decoded.chunk);
  }

  /**
   * Stores one chunk. Throws only when the disk fails (DISK_FULL / INTERNAL); the chunk is then not
   * counted as received. Chunks that arrive while a write is under way are committed together: all
   * written, one fsync, one bitmap update, so a fleet's disk sees one sync per batch, not three per chunk.
   */
  acceptChunk(chunk: ArtifactChunk): Promise<ChunkOutcome> {
    if (chunk.sha256 === this.options.sha256 && this.#heldOrWriting(chunk.index)) {
      return Promise.resolve(this.#duplicate());
    }
    const rejected = this.#check(chunk);
    if (rejected) return Promise.resolve(rejected);
    this.#writing.add(chunk.index);
    return new Promise<ChunkOutcome>((resolve, reject) => {
      this.#batch.push({ chunk, resolve, reject });
      if (this.#batch.length === 1) void this.#queue.run(() => this.#commitBatch());
    });
  }

  /** False once finished, so a late frame is still rejected as `finished`. */
  #heldOrWriting(index: number): boolean {
    return !this.#finished && (this.#bitmap.has(index) || this.#writing.has(index));
  }

  #duplicate(): ChunkOutcome {
    this.counters.duplicate++;
    return { status: 'duplicate' };
  }

  /** Writes every chunk handed in since the last commit; runs on the serial queue. */
  async #commitBatch(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    if (this.#finished) {
      for (const entry of batch) {
        this.#writing.delete(entry.chunk.index);
        entry.resolve({ status: 'rejected', reason: 'finished', message: 'download already finished' });
      }
      return;
    }
    const toWrite = batch;
    const indices = toWrite.map((e) => e.chunk.index);
    const fail = (err: unknown) => {
      for (const entry of toWrite) entry.reject(err);
    };
    try {
      const part = this.#requirePart();
      for (const { chunk } of toWrite) {
        try {
          await part.writeAt(chunk.payload, chunk.index * this.options.chunkSize);
        } catch (err) {
          throw diskError(err, `writing chunk ${chunk.index} of ${this.options.sha256}`);
        }
      }
      try {
        await part.sync();
      } catch (err) {
        throw diskError(err, `syncing chunks ${indices.join(',')} of ${this.options.sha256}`);
      }
      for (const index of indices) this.#bitmap.set(index);
      try {
        await writeFileAtomic(this.bitmapPath, this.#bitmap.serialize());
      } catch (err) {
        // The bytes are durable but the bits are not: forget them, so memory and disk agree.
        for (const index of indices) this.#bitmap.clear(index);
        throw err;
      }
    } catch (err) {
      fail(err);
      return;
    } finally {
      for (const index of indices) this.#writing.delete(index);
    }
    const complete = this.#bitmap.complete;
    for (const entry of toWrite) {
      this.counters.accepted++;
      entry.resolve({ status: 'accepted', complete });
    }
    this.options.onProgress?.(this.progress());
  }

  #check(chunk: ArtifactChunk): ChunkOutcome | null {
    const reject = (reason: ChunkRejection, message: string): ChunkOutcome => ({
      status: 'rejected',
      reason,
      message,
    });
    if (chunk.sha256 !== this.options.sha256) {
      this.counters.wrongArtifact++;
      return reject('wrong_artifact', `chunk of ${chunk.sha256}, downloading ${this.options.sha256}`);
    }
    if (chunk.chunkSize !== this.options.chunkSize || chunk.total !== this.#bitmap.total) {
      this.counters.geometryMismatch++;
      return reject(
        'geometry_mismatch',
        `chunk says ${chunk.total} chunks of ${chunk.chunkSize}, expected ${this.#bitmap.total} of ${this.options.chunkSize}`,
      );
    }
    const expected = chunkLength(this.options, chunk.index);
    if (chunk.payload.length !== expected) {
      this.counters.wrongLength++;
      return reject(
        'wrong_length',
        `chunk ${chunk.index} has ${chunk.payload.length} bytes, expected ${expected}`,
      );
    }
    if (this.#finished) return reject('finished', 'download already finished');
    return null;
  }

  #requirePart(): PartFile {
    if (!this.#part) throw new EdgeloopError('INTERNAL', 'ArtifactDownload used before start()');
    return this.#part;
  }

  /**
   * Checks the whole-file sha256 once every chunk is in and moves the file to `artifactPath`. On a
   * mismatch the partial state is wiped (every chunk becomes missing) and CHECKSUM_MISMATCH thrown.
   */
  finish(): Promise<string> {
    return this.#queue.run(async () => {
      if (this.#finished) return this.artifactPath;
      if (!this.#bitmap.complete) {
        throw new EdgeloopError(
          'INTERNAL',
          `download of ${this.options.sha256} is not complete (${this.#bitmap.received}/${this.#bitmap.total})`,
        );
      }
      const part = this.#requirePart();
      const { sha256, size } = await sha256File(this.partPath);
      if (sha256 !== this.options.sha256 || size !== this.options.size) {
        this.counters.checksumFailures++;
        this.#bitmap = new ChunkBitmap(this.options);
        try {
          await part.truncate(0);
          await rm(this.bitmapPath, { force: true });
        } catch (err) {
          throw diskError(err, 'resetting a corrupt download');
        }
        throw new EdgeloopError(
          'CHECKSUM_MISMATCH',
          `assembled artifact hashes to ${sha256} (${size} bytes), expected ${this.options.sha256}`,
          {
            details: { expected: this.options.sha256, actual: sha256 },
          },
        );
      }
      try {
        await part.close();
        this.#part = null;
        await rename(this.partPath, this.artifactPath);
        await rm(this.bitmapPath, { force: true });
        await fsyncDir(this.options.dir);
      } catch (err) {
        throw diskError(err, `completing ${this.options.sha256}`);
      }
      this.#finished = true;
      return this.artifactPath;
    });
  }

  /** Releases the file handle; the files stay for a later resume. */
  stop(): Promise<void> {
    return this.#queue.run(async () => {
      await this.#part?.close();
      this.#part = null;
    });
  }

  /** Stops and deletes every file of this download (a superseded desired state). */
  async discard(): Promise<void> {
    await this.stop();
    await Promise.all([this.partPath, this.bitmapPath, this.artifactPath].map((p) => rm(p, { force: true })));
  }
}
