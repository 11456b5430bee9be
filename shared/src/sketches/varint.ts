// Little-endian base-128 varints (as protobuf): counts below 128 take one byte, which is what most
// per-bin counts of a one-minute window are. That is why sketches are varint-packed, not JSON.
import { invalidSketch } from './errors.ts';

const MAX_VARINT_BYTES = 8; // 8 × 7 bits = 56 bits ≥ 53: enough for any safe integer

/** Appends varints and float64s to a growable buffer. */
export class ByteWriter {
  private bytes: number[] = [];

  /** A non-negative safe integer. Arithmetic, not bitwise, so values above 2^31 survive. */
  uint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`not a non-negative integer: ${value}`);
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
    return this;
  }

  /** A signed integer in −2^52..2^52−1, zigzag-mapped so small magnitudes of either sign stay short. */
  int(value: number): this {
    const zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
    if (!Number.isSafeInteger(value) || !Number.isSafeInteger(zigzag)) {
      throw new RangeError(`not an integer in −2^52..2^52−1: ${value}`);
    }
    return this.uint(zigzag);
  }

  float64(value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.bytes.push(view.getUint8(i));
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** Reads what ByteWriter wrote; throws a `SketchError` on truncated or overlong input. */
export class ByteReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.offset === this.bytes.length;
  }

  uint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.offset >= this.bytes.length) throw invalidSketch('truncated varint');
      const b = this.bytes[this.offset++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw invalidSketch('varint exceeds 2^53');
        if (b === 0 && i > 0) throw invalidSketch('non-canonical varint'); // one value, one encoding
        return value;
      }
      scale *= 0x80;
    }
    throw invalidSketch('varint longer than 8 bytes');
  }

  int(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  float64(): number {
    if (this.offset + 8 > this.bytes.length) throw invalidSketch('truncated float64');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.offset, 8);
    this.offset += 8;
    return view.getFloat64(0, true);
  }

  /** Decoders call this last: trailing bytes mean the input is not what we think it is. */
  end(): void {
    if (!this.done) throw invalidSketch(`${this.bytes.length - this.offset} trailing bytes`);
  }
}
