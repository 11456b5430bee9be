// Which chunks of an artifact are on disk. Serialised next to the partial file with its identity
// (sha256, size, chunk size) and a CRC, so a resumed download never trusts a bitmap that belongs to
// another artifact or was damaged.
import { crc32, hexDecode, hexEncode } from '@edgeloop/shared';

/** Inclusive [first, last] chunk ranges, as artifact requests carry them. */
export type ChunkRange = [number, number];

export interface ArtifactGeometry {
  sha256: string;
  size: number;
  chunkSize: number;
}

export function chunkCount(geometry: Pick<ArtifactGeometry, 'size' | 'chunkSize'>): number {
  return Math.ceil(geometry.size / geometry.chunkSize);
}

/** Payload bytes chunk `index` must carry: chunkSize except for a shorter last chunk. */
export function chunkLength(geometry: Pick<ArtifactGeometry, 'size' | 'chunkSize'>, index: number): number {
  return Math.min(geometry.chunkSize, geometry.size - index * geometry.chunkSize);
}

const MAGIC = 0x454c4231; // "ELB1"
const HEADER_BYTES = 4 + 32 + 8 + 4 + 4; // magic, sha256, size, chunk size, total

export class ChunkBitmap {
  readonly total: number;
  readonly #bits: Uint8Array;
  #count = 0;

  constructor(readonly geometry: ArtifactGeometry) {
    this.total = chunkCount(geometry);
    this.#bits = new Uint8Array(Math.ceil(this.total / 8));
  }

  get received(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.total;
  }

  has(index: number): boolean {
    return ((this.#bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
  }

  set(index: number): void {
    if (index < 0 || index >= this.total) throw new RangeError(`chunk ${index} outside 0..${this.total - 1}`);
    if (this.has(index)) return;
    this.#bits[index >> 3] = (this.#bits[index >> 3] ?? 0) | (1 << (index & 7));
    this.#count++;
  }

  clear(index: number): void {
    if (!this.has(index)) return;
    this.#bits[index >> 3] = (this.#bits[index >> 3] ?? 0) & ~(1 << (index & 7));
    this.#count--;
  }

  /**
   * Missing chunks as inclusive ranges, at most `maxRanges` of them (an artifact request carries up
   * to 64); the rest is asked for once these arrive.
   */
  missingRanges(maxRanges = 64): ChunkRange[] {
    const ranges: ChunkRange[] = [];
    let start = -1;
    for (let i = 0; i <= this.total; i++) {
      const missing = i < this.total && !this.has(i);
      if (missing && start < 0) start = i;
      if (!missing && start >= 0) {
        ranges.push([start, i - 1]);
        start = -1;
        if (ranges.length === maxRanges) break;
      }
    }
    return ranges;
  }

  serialize(): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + this.#bits.length + 4);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC);
    out.set(hexDecode(this.geometry.sha256), 4);
    view.setBigUint64(36, BigInt(this.geometry.size));
    view.setUint32(44, this.geometry.chunkSize);
    view.setUint32(48, this.total);
    out.set(this.#bits, HEADER_BYTES);
    view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)));
    return out;
  }

  /** The bitmap stored in `bytes`, or null when it is damaged or describes a different artifact. */
  static deserialize(bytes: Uint8Array, geometry: ArtifactGeometry): ChunkBitmap | null {
    const bitmap = new ChunkBitmap(geometry);
    const expectedLength = HEADER_BYTES + Math.ceil(bitmap.total / 8) + 4;
    if (bytes.length !== expectedLength) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(bytes.length - 4) !== crc32(bytes.subarray(0, bytes.length - 4))) return null;
    if (view.getUint32(0) !== MAGIC) return null;
    if (hexEncode(bytes.subarray(4, 36)) !== geometry.sha256) return null;
    if (view.getBigUint64(36) !== BigInt(geometry.size)) return null;
    if (view.getUint32(44) !== geometry.chunkSize || view.getUint32(48) !== bitmap.total) return null;
    for (let i = 0; i < bitmap.total; i++) {
      if ((bytes[HEADER_BYTES + (i >> 3)] ?? 0) & (1 << (i & 7))) bitmap.set(i);
    }
    return bitmap;
  }
}
