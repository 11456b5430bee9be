import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_HEADER_BYTES, decodeArtifactChunk, encodeArtifactChunk } from './messages/artifact.ts';
import { sha256Arb } from './testing/arbitraries.ts';

const chunkArb = fc
  .tuple(sha256Arb, fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1024, max: 4096 }))
  .chain(([sha256, total, chunkSize]) =>
    fc.record({
      sha256: fc.constant(sha256),
      total: fc.constant(total),
      chunkSize: fc.constant(chunkSize),
      index: fc.nat({ max: total - 1 }),
      payload: fc.uint8Array({ maxLength: chunkSize }),
    }),
  );

describe('artifact chunk frames', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(chunkArb, (chunk) => {
        const decoded = decodeArtifactChunk(encodeArtifactChunk(chunk));
        expect(decoded).toEqual({ ok: true, chunk });
      }),
      { numRuns: 50 },
    );
  });

  it('detect any corrupted payload byte (CRC) and any truncation (length)', () => {
    fc.assert(
      fc.property(
        chunkArb.filter((c) => c.payload.length > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (chunk, at, flip) => {
          const frame = encodeArtifactChunk(chunk);
          const corrupted = frame.slice();
          const pos = CHUNK_HEADER_BYTES + (at % chunk.payload.length);
          corrupted[pos] = (corrupted[pos] ?? 0) ^ flip;
          expect(decodeArtifactChunk(corrupted)).toMatchObject({ ok: false, error: 'CRC_MISMATCH' });
          const truncated = frame.subarray(0, frame.length - 1);
          expect(decodeArtifactChunk(truncated)).toMatchObject({ ok: false, error: 'LENGTH_MISMATCH' });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('reject frames that are not chunks', () => {
    expect(decodeArtifactChunk(new Uint8Array(10))).toMatchObject({ ok: false, error: 'TOO_SHORT' });
    expect(decodeArtifactChunk(new Uint8Array(80))).toMatchObject({ ok: false, error: 'BAD_MAGIC' });
    const [chunk] = fc.sample(chunkArb, 1);
    const frame = encodeArtifactChunk(chunk!);
    frame[4] = 9;
    expect(decodeArtifactChunk(frame)).toMatchObject({ ok: false, error: 'UNSUPPORTED_VERSION' });
  });

  it('refuse to encode an index outside the artifact', () => {
    expect(() =>
      encodeArtifactChunk({
        sha256: 'a'.repeat(64),
        index: 3,
        total: 3,
        chunkSize: 1024,
        payload: new Uint8Array(1),
      }),
    ).toThrow('chunk index out of range');
  });
});
