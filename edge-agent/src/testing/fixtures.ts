// Test fixtures: manifests, signing keys and signatures made the way the cloud registry makes them
// (Ed25519 over manifestSigningBytes), without importing cloud code.
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  base64Encode,
  type ModelManifest,
  type ModelManifestInput,
  manifestSigningBytes,
  modelManifestSchema,
  type Signature,
} from '@edgeloop/shared';

export interface TestSigningKey {
  privateKey: KeyObject;
  /** Raw 32-byte public key, as agents are configured with it. */
  publicRaw: Uint8Array;
  keyId: string;
}

export function testSigningKey(): TestSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const publicRaw = new Uint8Array(der.subarray(der.length - 32));
  const keyId = createHash('sha256').update(publicRaw).digest('hex').slice(0, 16);
  return { privateKey, publicRaw, keyId };
}

export function signTestManifest(manifest: ModelManifest, key: TestSigningKey): Signature {
  const value = sign(null, manifestSigningBytes(manifest), key.privateKey);
  return { alg: 'ed25519', keyId: key.keyId, value: base64Encode(new Uint8Array(value)) };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A valid manifest for `artifact` (a 1×1×2×2 input, three classes) with any field overridden. */
export function testManifest(
  artifact: Uint8Array,
  overrides: Partial<ModelManifestInput> = {},
): ModelManifest {
  return modelManifestSchema.parse({
    v: 1,
    name: 'digits',
    version: '1',
    variant: 'fp32',
    sha256: sha256Hex(artifact),
    size: artifact.length,
    format: 'onnx',
    createdAt: '2026-01-01T00:00:00.000Z',
    input: { name: 'input', shape: ['batch', 1, 2, 2], dtype: 'float32' },
    outputs: [{ name: 'probabilities', shape: ['batch', 3], dtype: 'float32', role: 'probabilities' }],
    classes: ['zero', 'one', 'two'],
    preprocessing: { layout: 'NCHW', channels: 1, height: 2, width: 2 },
    ...overrides,
  } satisfies ModelManifestInput);
}
