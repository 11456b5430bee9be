// Nothing reaches onnxruntime-web before it passes here: the manifest must carry an Ed25519
// signature from a trusted cloud key, and the artifact bytes must have the manifest's size and
// sha256. WebCrypto does the work (Ed25519 is in Chromium 137+, Firefox 129+, Safari 17+), so the
// SDK ships no crypto code. Same rules and codes as the edge agent (edge-agent/src/verify.ts).
import {
  base64Decode,
  hexEncode,
  type ModelManifest,
  manifestSigningBytes,
  type PublicKey,
  type Signature,
} from '@edgeloop/shared';
import { EdgeloopWebError } from './errors.ts';

/** A cloud signing key, imported into WebCrypto. */
export interface TrustedKey {
  keyId: string;
  key: CryptoKey;
}

/** WebCrypto wants a BufferSource backed by a plain ArrayBuffer. */
function buffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer
    : (bytes.slice().buffer as ArrayBuffer);
}

/**
 * Lowercase hex sha256 of some bytes, with WebCrypto.
 *
 * @example
 * await sha256Hex(new TextEncoder().encode('abc')); // 'ba7816bf…'
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hexEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', buffer(bytes))));
}

/**
 * Imports raw 32-byte Ed25519 public keys (base64, as `GET /api/v1/keys` serves them or as an app
 * pins them). The keyId is recomputed from the key bytes — a key set whose keyId does not match its
 * key is refused, so a signature can only ever be checked against the key it names.
 *
 * @example
 * const keys = await importTrustedKeys(['MCowBQYDK2VwAyEA…']);
 */
export async function importTrustedKeys(keys: readonly (string | PublicKey)[]): Promise<TrustedKey[]> {
  return Promise.all(
    keys.map(async (entry) => {
      const encoded = typeof entry === 'string' ? entry : entry.publicKey;
      let raw: Uint8Array;
      try {
        raw = base64Decode(encoded.trim());
      } catch (err) {
        throw new EdgeloopWebError('VALIDATION_FAILED', 'public key is not valid base64', { cause: err });
      }
      if (raw.length !== 32) {
        throw new EdgeloopWebError(
          'VALIDATION_FAILED',
          `public key must be 32 raw Ed25519 bytes, got ${raw.length}`,
        );
      }
      const keyId = (await sha256Hex(raw)).slice(0, 16);
      if (typeof entry !== 'string' && entry.keyId !== keyId) {
        throw new EdgeloopWebError(
          'VALIDATION_FAILED',
          `key set names key ${entry.keyId} but its bytes are ${keyId}`,
        );
      }
      let key: CryptoKey;
      try {
        key = await crypto.subtle.importKey('raw', buffer(raw), { name: 'Ed25519' }, false, ['verify']);
      } catch (err) {
        throw new EdgeloopWebError(
          'SIGNATURE_INVALID',
          'this browser cannot import Ed25519 keys (WebCrypto)',
          {
            cause: err,
          },
        );
      }
      return { keyId, key };
    }),
  );
}

/**
 * Checks the detached signature over `manifestSigningBytes(manifest)`; throws SIGNATURE_MISSING or
 * SIGNATURE_INVALID. Several keys may be trusted at once (rotation); the signature's keyId picks one.
 *
 * @example
 * await verifyManifestSignature(resolution.manifest, resolution.signature, keys);
 */
export async function verifyManifestSignature(
  manifest: ModelManifest,
  signature: Signature | null | undefined,
  keys: readonly TrustedKey[],
): Promise<void> {
  const what = `manifest ${manifest.name}@${manifest.version} (${manifest.variant})`;
  if (!signature) throw new EdgeloopWebError('SIGNATURE_MISSING', `${what} is unsigned`);
  const trusted = keys.find((k) => k.keyId === signature.keyId);
  if (!trusted) {
    throw new EdgeloopWebError(
      'SIGNATURE_INVALID',
      `${what} is signed by unknown key ${signature.keyId} (trusted: ${keys.map((k) => k.keyId).join(', ') || 'none'})`,
    );
  }
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(
      { name: 'Ed25519' },
      trusted.key,
      buffer(base64Decode(signature.value)),
      buffer(manifestSigningBytes(manifest)),
    );
  } catch (err) {
    throw new EdgeloopWebError('SIGNATURE_INVALID', `signature of ${what} could not be checked`, {
      cause: err,
    });
  }
  if (!valid) {
    throw new EdgeloopWebError(
      'SIGNATURE_INVALID',
      `signature of ${what} does not verify with key ${signature.keyId}`,
    );
  }
}

/**
 * Throws CHECKSUM_MISMATCH unless the bytes have the manifest's size and sha256.
 *
 * @example
 * await verifyArtifact(bytes, manifest);
 */
export async function verifyArtifact(
  bytes: Uint8Array,
  manifest: Pick<ModelManifest, 'size' | 'sha256'>,
): Promise<void> {
  if (bytes.length !== manifest.size) {
    throw new EdgeloopWebError(
      'CHECKSUM_MISMATCH',
      `artifact is ${bytes.length} bytes, manifest says ${manifest.size}`,
      {
        details: { expectedSize: manifest.size, actualSize: bytes.length },
      },
    );
  }
  const actual = await sha256Hex(bytes);
  if (actual !== manifest.sha256) {
    throw new EdgeloopWebError(
      'CHECKSUM_MISMATCH',
      `artifact sha256 ${actual} does not match manifest ${manifest.sha256}`,
      {
        details: { expected: manifest.sha256, actual },
      },
    );
  }
}
