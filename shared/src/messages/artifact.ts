import * as z from 'zod';
import { crc32, hexDecode, hexEncode } from '../encoding.ts';
import { sha256Schema } from '../ids.ts';
import { definePayload } from '../payload.ts';

/** Inclusive range of chunk indices [first, last]. */
export const chunkRangeSchema = z
  .tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])
  .refine(([first, last]) => first <= last, {
    message: 'chunk range must be [first, last] with first <= last',
  });

/**
 * `el/v1/dev/{id}/artifact/req`, QoS 1: a device asks for chunks of an artifact. The cloud answers
 * on `el/v1/art/{sha256}/{chunk}`, so devices downloading the same artifact share every chunk.
 */
export const artifactRequestSchema = z.object({
  v: z.literal(1),
  sha256: sha256Schema,
  chunkSize: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024),
  ranges: z.array(chunkRangeSchema).min(1).max(64),
});
export type ArtifactRequest = z.infer<typeof artifactRequestSchema>;

export const artifactRequestPayload = definePayload('artifact/req', artifactRequestSchema, {
  maxBytes: 4 * 1024,
});

/**
 * Binary chunk frame on `el/v1/art/{sha256}/{chunk}` (all integers big-endian):
 *
 *   0  4  magic "ELC1"
 *   4  1  frame version (1)
 *   5  3  reserved (0)
 *   8 32  artifact sha256 (raw)
 *  40  4  chunk index
 *  44  4  total chunks
 *  48  4  chunk size (bytes per chunk for this artifact, the last may be shorter)
 *  52  4  payload length
 *  56  4  CRC-32 of the payload
 *  60  …  payload
 *
 * The frame carries its own length and checksum, so a truncated or corrupted chunk is detected
 * before it touches the partial file; the whole-file sha256 and the manifest signature are checked
 * after the last chunk.
 */
export const CHUNK_MAGIC = [0x45, 0x4c, 0x43, 0x31] as const; // "ELC1"
export const CHUNK_HEADER_BYTES = 60;
export const CHUNK_FRAME_VERSION = 1;

export interface ArtifactChunk {
  sha256: string;
  index: number;
  total: number;
  chunkSize: number;
  payload: Uint8Array;
}

export type ChunkDecodeError =
  | 'TOO_SHORT'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'LENGTH_MISMATCH'
  | 'CRC_MISMATCH'
  | 'INDEX_OUT_OF_RANGE'
  | 'SIZE_INVALID';

export type ChunkDecodeResult =
  | { ok: true; chunk: ArtifactChunk }
  | { ok: false; error: ChunkDecodeError; reason: string };

export function encodeArtifactChunk(chunk: ArtifactChunk): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(chunk.sha256))
    throw new RangeError('sha256 must be 64 lowercase hex characters');
  if (chunk.index < 0 || chunk.index >= chunk.total) throw new RangeError('chunk index out of range');
  if (chunk.payload.length > chunk.chunkSize) throw new RangeError('payload larger than chunk size');
  const frame = new Uint8Array(CHUNK_HEADER_BYTES + chunk.payload.length);
  const view = new DataView(frame.buffer);
  frame.set(CHUNK_MAGIC, 0);
  view.setUint8(4, CHUNK_FRAME_VERSION);
  frame.set(hexDecode(chunk.sha256), 8);
  view.setUint32(40, chunk.index);
  view.setUint32(44, chunk.total);
  view.setUint32(48, chunk.chunkSize);
  view.setUint32(52, chunk.payload.length);
  view.setUint32(56, crc32(chunk.payload));
  frame.set(chunk.payload, CHUNK_HEADER_BYTES);
  return frame;
}

/**
 * The artifact and chunk index a frame claims, read from its header alone (no CRC over the payload),
 * or null when the header is not one. Lets a downloader drop a chunk it already holds for the price
 * of a few bytes: on a shared artifact topic most frames are for other devices' re-requests.
 */
export function peekArtifactChunk(frame: Uint8Array): { sha256: string; index: number } | null {
  if (frame.length < CHUNK_HEADER_BYTES) return null;
  for (let i = 0; i < 4; i++) if (frame[i] !== CHUNK_MAGIC[i]) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint8(4) !== CHUNK_FRAME_VERSION) return null;
  return { sha256: hexEncode(frame.subarray(8, 40)), index: view.getUint32(40) };
}

export function decodeArtifactChunk(frame: Uint8Array): ChunkDecodeResult {
  const fail = (error: ChunkDecodeError, reason: string): ChunkDecodeResult => ({ ok: false, error, reason });
  if (frame.length < CHUNK_HEADER_BYTES)
    return fail('TOO_SHORT', `frame of ${frame.length} bytes is shorter than its header`);
  for (let i = 0; i < 4; i++)
    if (frame[i] !== CHUNK_MAGIC[i]) return fail('BAD_MAGIC', 'not an artifact chunk frame');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const version = view.getUint8(4);
  if (version !== CHUNK_FRAME_VERSION)
    return fail('UNSUPPORTED_VERSION', `chunk frame version ${version} is not supported`);
  const index = view.getUint32(40);
  const total = view.getUint32(44);
  const chunkSize = view.getUint32(48);
  const length = view.getUint32(52);
  const crc = view.getUint32(56);
  if (total === 0 || index >= total) return fail('INDEX_OUT_OF_RANGE', `chunk ${index} of ${total}`);
  if (chunkSize === 0 || length > chunkSize)
    return fail('SIZE_INVALID', `payload ${length} exceeds chunk size ${chunkSize}`);
  if (frame.length !== CHUNK_HEADER_BYTES + length) {
    return fail(
      'LENGTH_MISMATCH',
      `header says ${length} payload bytes, frame has ${frame.length - CHUNK_HEADER_BYTES}`,
    );
  }
  const payload = frame.subarray(CHUNK_HEADER_BYTES);
  if (crc32(payload) !== crc) return fail('CRC_MISMATCH', `chunk ${index} failed its CRC-32 check`);
  return { ok: true, chunk: { sha256: hexEncode(frame.subarray(8, 40)), index, total, chunkSize, payload } };
}
