import { createHash, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ModelManifest,
  manifestSigningBytes,
  modelManifestSchema,
  signatureSchema,
} from '@edgeloop/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SIGNING_KEY_FILE, SigningKeys, verifyManifest } from './signing-keys.ts';

const manifest: ModelManifest = modelManifestSchema.parse({
  v: 1,
  name: 'digits',
  version: '3',
  variant: 'int8',
  sha256: 'a'.repeat(64),
  size: 1234,
  format: 'onnx',
  createdAt: '2024-05-01T10:00:00.000Z',
  input: { name: 'input', shape: ['batch', 1, 28, 28], dtype: 'float32' },
  outputs: [{ name: 'probabilities', shape: ['batch', 10], dtype: 'float32', role: 'probabilities' }],
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
});

describe('SigningKeys', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-keys-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates the key on first start with mode 0600 and loads the same key afterwards', async () => {
    const first = await SigningKeys.loadOrCreate(dataDir);
    const path = join(dataDir, SIGNING_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700);
    expect(await readFile(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const again = await SigningKeys.loadOrCreate(dataDir);
    expect(again.keyId).toBe(first.keyId);
    expect(again.publicKey).toEqual(first.publicKey);
  });

  it('agrees on one key when several processes start at once', async () => {
    const keys = await Promise.all([1, 2, 3, 4, 5].map(() => SigningKeys.loadOrCreate(dataDir)));
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
    expect((await SigningKeys.loadOrCreate(dataDir)).keyId).toBe(keys[0]!.keyId);
  });

  it('publishes a raw 32-byte public key and keyId = first 16 hex of its sha256', () => {
    const keys = SigningKeys.generate();
    expect(keys.publicKeyRaw).toHaveLength(32);
    expect(keys.keyId).toBe(createHash('sha256').update(keys.publicKeyRaw).digest('hex').slice(0, 16));
    expect(Buffer.from(keys.publicKey.publicKey, 'base64')).toEqual(Buffer.from(keys.publicKeyRaw));
    expect(keys.publicKey.alg).toBe('ed25519');
  });

  it('signs manifests verifiably; a tampered manifest or another key fails', async () => {
    const keys = SigningKeys.generate();
    const signature = await keys.signManifest(manifest);
    expect(signatureSchema.parse(signature)).toEqual(signature);
    expect(verifyManifest(manifest, signature, keys.publicKeyRaw)).toBe(true);
    // Key order does not matter (canonical JSON), content does.
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(manifest).reverse())));
    expect(verifyManifest(reordered, signature, keys.publicKeyRaw)).toBe(true);
    for (const tampered of [
      { ...manifest, sha256: 'b'.repeat(64) },
      { ...manifest, version: '4' },
      { ...manifest, preprocessing: { ...manifest.preprocessing, invert: true } },
    ]) {
      expect(verifyManifest(tampered, signature, keys.publicKeyRaw)).toBe(false);
    }
    const flipped = Buffer.from(signature.value, 'base64');
    flipped[10]! ^= 1;
    expect(
      verifyManifest(manifest, { ...signature, value: flipped.toString('base64') }, keys.publicKeyRaw),
    ).toBe(false);
    const other = SigningKeys.generate();
    expect(verifyManifest(manifest, signature, other.publicKeyRaw)).toBe(false);
    expect(verifyManifest(manifest, { ...signature, keyId: other.keyId }, other.publicKeyRaw)).toBe(false);
  });

  it('produces signatures WebCrypto verifies with the raw public key, as browsers and agents will', async () => {
    const keys = SigningKeys.generate();
    const signature = await keys.signManifest(manifest);
    const publicKey = await webcrypto.subtle.importKey('raw', keys.publicKeyRaw, { name: 'Ed25519' }, false, [
      'verify',
    ]);
    const ok = await webcrypto.subtle.verify(
      { name: 'Ed25519' },
      publicKey,
      Buffer.from(signature.value, 'base64'),
      manifestSigningBytes(manifest),
    );
    expect(ok).toBe(true);
  });

  it('refuses a key file that is not an Ed25519 PKCS#8 key', async () => {
    await SigningKeys.loadOrCreate(dataDir);
    const { writeFile, chmod } = await import('node:fs/promises');
    const path = join(dataDir, SIGNING_KEY_FILE);
    await chmod(path, 0o600);
    await writeFile(path, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    await expect(SigningKeys.loadOrCreate(dataDir)).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
