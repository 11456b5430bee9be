import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64Encode, EdgeloopError } from '@edgeloop/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signTestManifest, testManifest, testSigningKey } from './testing/fixtures.ts';
import {
  trustedKey,
  verifyArtifactBytes,
  verifyArtifactFile,
  verifyManifestSignature,
  verifySignedArtifact,
} from './verify.ts';

const artifact = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 255);
const signer = testSigningKey();
const manifest = testManifest(artifact);
const signature = signTestManifest(manifest, signer);

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeloopError);
    return (err as EdgeloopError).code;
  }
  return 'no error';
}

describe('verifyManifestSignature', () => {
  it('accepts a signature from a trusted key given raw or as base64', () => {
    verifyManifestSignature(manifest, signature, [trustedKey(signer.publicRaw)]);
    verifyManifestSignature(manifest, signature, [trustedKey(base64Encode(signer.publicRaw))]);
  });

  it('computes the keyId the way signatures name it', () => {
    expect(trustedKey(signer.publicRaw).keyId).toBe(signer.keyId);
  });

  it('picks the key named by keyId among several (rotation)', () => {
    const other = testSigningKey();
    verifyManifestSignature(manifest, signature, [trustedKey(other.publicRaw), trustedKey(signer.publicRaw)]);
  });

  it('rejects a missing signature', async () => {
    expect(
      await codeOf(() => verifyManifestSignature(manifest, undefined, [trustedKey(signer.publicRaw)])),
    ).toBe('SIGNATURE_MISSING');
  });

  it('rejects a tampered manifest', async () => {
    const tampered = { ...manifest, classes: ['zero', 'one', 'seven'] };
    expect(
      await codeOf(() => verifyManifestSignature(tampered, signature, [trustedKey(signer.publicRaw)])),
    ).toBe('SIGNATURE_INVALID');
  });

  it('rejects a signature from an untrusted key even when it names a trusted keyId', async () => {
    const attacker = testSigningKey();
    const forged = { ...signTestManifest(manifest, attacker), keyId: signer.keyId };
    expect(
      await codeOf(() => verifyManifestSignature(manifest, forged, [trustedKey(signer.publicRaw)])),
    ).toBe('SIGNATURE_INVALID');
  });

  it('rejects an unknown keyId', async () => {
    const attacker = testSigningKey();
    const foreign = signTestManifest(manifest, attacker);
    expect(
      await codeOf(() => verifyManifestSignature(manifest, foreign, [trustedKey(signer.publicRaw)])),
    ).toBe('SIGNATURE_INVALID');
  });

  it('refuses a malformed trusted key at configuration time', async () => {
    expect(await codeOf(() => trustedKey(new Uint8Array(31)))).toBe('VALIDATION_FAILED');
    expect(await codeOf(() => trustedKey('not base64!'))).toBe('VALIDATION_FAILED');
  });
});

describe('artifact digest', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'el-verify-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts matching bytes and file', async () => {
    verifyArtifactBytes(artifact, manifest);
    const path = join(dir, 'a.onnx');
    await writeFile(path, artifact);
    await verifyArtifactFile(path, manifest);
    await verifySignedArtifact({ path }, { manifest, signature }, [trustedKey(signer.publicRaw)]);
  });

  it('rejects one flipped bit and a wrong size with CHECKSUM_MISMATCH', async () => {
    const flipped = artifact.slice();
    flipped[1234] = (flipped[1234] ?? 0) ^ 1;
    expect(await codeOf(() => verifyArtifactBytes(flipped, manifest))).toBe('CHECKSUM_MISMATCH');
    expect(await codeOf(() => verifyArtifactBytes(artifact.subarray(1), manifest))).toBe('CHECKSUM_MISMATCH');
    const path = join(dir, 'b.onnx');
    await writeFile(path, flipped);
    expect(await codeOf(() => verifyArtifactFile(path, manifest))).toBe('CHECKSUM_MISMATCH');
  });

  it('checks the signature before the bytes', async () => {
    expect(
      await codeOf(() =>
        verifySignedArtifact({ bytes: artifact.subarray(1) }, { manifest, signature: null }, [
          trustedKey(signer.publicRaw),
        ]),
      ),
    ).toBe('SIGNATURE_MISSING');
  });
});
