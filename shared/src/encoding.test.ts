import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base64Decode,
  base64Encode,
  crc32,
  hexDecode,
  hexEncode,
  isBase64,
  utf8Decode,
  utf8DecodePortable,
  utf8Encode,
} from './encoding.ts';

describe('browser-safe byte helpers agree with Node', () => {
  it('utf8 matches Buffer for any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const bytes = utf8Encode(s);
        expect(Buffer.from(bytes).equals(Buffer.from(s, 'utf8'))).toBe(true);
        expect(utf8Decode(bytes)).toBe(s);
        expect(utf8DecodePortable(bytes)).toBe(s);
      }),
    );
  });

  it('utf8Decode matches TextDecoder on arbitrary bytes (malformed → U+FFFD)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const expected = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
        expect(utf8Decode(bytes)).toBe(expected);
        expect(utf8DecodePortable(bytes)).toBe(expected);
      }),
    );
  });

  it('utf8Decode keeps a leading byte order mark, native or portable', () => {
    const bytes = Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
    expect(utf8Decode(bytes)).toBe('\ufeff{}');
    expect(utf8DecodePortable(bytes)).toBe('\ufeff{}');
  });

  it('base64 and hex round-trip and match Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const b64 = base64Encode(bytes);
        expect(b64).toBe(Buffer.from(bytes).toString('base64'));
        expect(base64Decode(b64)).toEqual(bytes);
        expect(hexDecode(hexEncode(bytes))).toEqual(bytes);
      }),
    );
  });

  it('rejects malformed base64 and hex', () => {
    expect(() => base64Decode('abc')).toThrow('invalid base64');
    expect(() => base64Decode('ab=c')).toThrow('invalid base64');
    expect(() => hexDecode('abc')).toThrow('invalid hex');
    expect(() => hexDecode('zz')).toThrow('invalid hex');
  });

  it('crc32 matches zlib', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        expect(crc32(bytes)).toBe(zlib.crc32(bytes));
      }),
    );
  });
});

describe('isBase64 on large inputs', () => {
  it('accepts a multi-megabyte model upload without overflowing the regexp stack', () => {
    const big = base64Encode(new Uint8Array(6 * 1024 * 1024).map((_, i) => i & 255));
    expect(isBase64(big)).toBe(true);
    expect(isBase64(`${big.slice(0, -4)}A=A=`)).toBe(false);
  });

  it('accepts exactly what round-trips through base64Decode/base64Encode', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12, unit: fc.constantFrom(...'AB+/=a9-_ '.split('')) }), (s) => {
        if (isBase64(s)) expect(base64Encode(base64Decode(s)).length).toBe(s.length);
        else expect(() => base64Decode(s)).toThrow('invalid base64');
      }),
    );
  });
});
