// Nothing loads an artifact before it passes here: its bytes must hash to the manifest's sha256 and
// have the manifest's size, and the manifest must carry an Ed25519 signature from a trusted key.
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  base64Decode,
  EdgeloopError,
  type ModelManifest,
  manifestSigningBytes,
  type Signature,
} from '@edgeloop/shared';

/** A trusted Ed25519 public key: the raw 32 bytes, or those bytes in base64. */
export type PublicKeyInput = Uint8Array | string;

export interface TrustedKey {
  keyId: string;
  key: KeyObject;
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/** keyId as the manifest signature names it: first 16 hex chars of sha256(raw public key). */
export function ed25519KeyId(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function trustedKey(input: PublicKeyInput): TrustedKey {
  let raw: Uint8Array;
  try {
    raw = typeof input === 'string' ? base64Decode(input.trim()) : input;
  } catch (err) {
    throw new EdgeloopError('VALIDATION_FAILED', 'trusted public key is not valid base64', { cause: err });
  }
  if (raw.length !== 32) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `trusted public key must be 32 raw Ed25519 bytes, got ${raw.length}`,
    );
  }
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
  der.set(ED25519_SPKI_PREFIX);
  der.set(raw, ED25519_SPKI_PREFIX.length);
  return {
    keyId: ed25519KeyId(raw),
    key: createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }),
  };
}

/**
 * Checks the detached signature over `manifestSigningBytes(manifest)`. Several trusted keys may be
 * configured (key rotation); the signature's keyId picks one.
 */
export function verifyManifestSignature(
  manifest: ModelManifest,
  signature: Signature | null | undefined,
  keys: readonly TrustedKey[],
): void {
  if (!signature) {
    throw new EdgeloopError('SIGNATURE_MISSING', `manifest ${manifest.name}@${manifest.version} is unsigned`);
  }
  const trusted = keys.find((k) => k.keyId === signature.keyId);
  if (!trusted) {
    throw new EdgeloopError(
      'SIGNATURE_INVALID',
      `manifest signed by unknown key ${signature.keyId} (trusted: ${keys.map((k) => k.keyId).join(', ') || 'none'})`,
    );
  }
  let valid = false;
  try {
    valid = verify(null, manifestSigningBytes(manifest), trusted.key, base64Decode(signature.value));
  } catch (err) {
    throw new EdgeloopError('SIGNATURE_INVALID', 'manifest signature could not be checked', { cause: err });
  }
  if (!valid) {
    throw new EdgeloopError(
      'SIGNATURE_INVALID',
      `signature of manifest ${manifest.name}@${manifest.version} does not verify with key ${signature.keyId}`,
    );
  }
}

function checkDigest(manifest: ModelManifest, size: number, sha256: string): void {
  if (size !== manifest.size) {
    throw new EdgeloopError(
      'CHECKSUM_MISMATCH',
      `artifact is ${size} bytes, manifest says ${manifest.size}`,
      {
        details: { expectedSize: manifest.size, actualSize: size },
      },
    );
  }
  if (sha256 !== manifest.sha256) {
    throw new EdgeloopError(
      'CHECKSUM_MISMATCH',
      `artifact sha256 ${sha256} does not match manifest ${manifest.sha256}`,
      {
        details: { expected: manifest.sha256, actual: sha256 },
      },
    );
  }
}

export function verifyArtifactBytes(bytes: Uint8Array, manifest: ModelManifest): void {
  checkDigest(manifest, bytes.length, createHash('sha256').update(bytes).digest('hex'));
}

/** Streams the file through sha256, so a large artifact never has to fit in memory twice. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function verifyArtifactFile(path: string, manifest: ModelManifest): Promise<void> {
  const { sha256, size } = await sha256File(path);
  checkDigest(manifest, size, sha256);
}

/** Signature first (cheap, and an unsigned manifest's sha256 proves nothing), then the bytes. */
export async function verifySignedArtifact(
  artifact: { path: string } | { bytes: Uint8Array },
  signed: { manifest: ModelManifest; signature?: Signature | null },
  keys: readonly TrustedKey[],
): Promise<void> {
  verifyManifestSignature(signed.manifest, signed.signature, keys);
  if ('bytes' in artifact) verifyArtifactBytes(artifact.bytes, signed.manifest);
  else await verifyArtifactFile(artifact.path, signed.manifest);
}
