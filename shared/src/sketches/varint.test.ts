import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SketchError } from './errors.ts';
import { ByteReader, ByteWriter } from './varint.ts';

describe('varints', () => {
  it('round-trip any sequence of safe naturals, signed integers and doubles', () => {
    const item = fc.oneof(
      fc.record({ kind: fc.constant('uint' as const), value: fc.maxSafeNat() }),
      fc.record({
        kind: fc.constant('int' as const),
        value: fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }),
      }),
      fc.record({ kind: fc.constant('float64' as const), value: fc.double() }),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 20 }), (items) => {
        const w = new ByteWriter();
        for (const { kind, value } of items) w[kind](value);
        const r = new ByteReader(w.finish());
        for (const { kind, value } of items) expect(r[kind]()).toBe(value);
        r.end();
      }),
    );
  });

  it('spend one byte below 128 and grow by one byte per 7 bits', () => {
    expect(new ByteWriter().uint(127).finish()).toEqual(Uint8Array.of(127));
    expect(new ByteWriter().uint(128).finish()).toEqual(Uint8Array.of(0x80, 1));
    expect(new ByteWriter().int(-1).finish()).toEqual(Uint8Array.of(1));
    expect(new ByteWriter().uint(Number.MAX_SAFE_INTEGER).finish()).toHaveLength(8);
  });

  it('reject truncated, overlong, non-canonical and trailing input with a SketchError', () => {
    const reads = (bytes: number[]) => () => {
      const r = new ByteReader(Uint8Array.from(bytes));
      r.uint();
      r.end();
    };
    expect(reads([0x80])).toThrow(SketchError);
    expect(reads([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).toThrow(/longer than 8/);
    expect(reads([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).toThrow(/exceeds 2\^53/);
    expect(reads([0x81, 0x00])).toThrow(/non-canonical/);
    expect(reads([1, 2])).toThrow(/trailing/);
    expect(() => new ByteReader(Uint8Array.of(1, 2)).float64()).toThrow(SketchError);
  });

  it('refuse to write what cannot be read back', () => {
    expect(() => new ByteWriter().uint(-1)).toThrow(RangeError);
    expect(() => new ByteWriter().uint(1.5)).toThrow(RangeError);
    expect(() => new ByteWriter().int(2 ** 52)).toThrow(RangeError);
    expect(() => new ByteWriter().int(0.5)).toThrow(RangeError);
  });
});
