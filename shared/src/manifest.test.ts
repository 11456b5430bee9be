import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, modelManifestSchema, signedManifestSchema } from './manifest.ts';
import { inputShape, pixelsToTensor, preprocessingSpecSchema } from './preprocessing.ts';
import { manifestSigningBytes } from './signing.ts';
import { manifestArb } from './testing/arbitraries.ts';

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    entries.sort((a, b) => ((a[0].charCodeAt(0) * seed) % 7) - ((b[0].charCodeAt(0) * seed) % 7));
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed)]));
  }
  return value;
}

describe('model manifest', () => {
  it('canonical JSON does not depend on key order', () => {
    fc.assert(
      fc.property(manifestArb, fc.integer({ min: 1, max: 97 }), (m, seed) => {
        expect(canonicalJson(shuffleKeys(m, seed))).toBe(canonicalJson(m));
      }),
      { numRuns: 50 },
    );
  });

  it('signatures over the signing bytes verify, and any field change breaks them', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    fc.assert(
      fc.property(manifestArb, (input) => {
        const manifest = modelManifestSchema.parse(input);
        const signature = sign(null, manifestSigningBytes(manifest), privateKey);
        expect(verify(null, manifestSigningBytes(manifest), publicKey, signature)).toBe(true);
        const tampered = { ...manifest, size: manifest.size + 1 };
        expect(verify(null, manifestSigningBytes(tampered), publicKey, signature)).toBe(false);
      }),
      { numRuns: 20 },
    );
  });

  it('rejects a manifest with a bad sha256 or an unknown variant, naming the fields', () => {
    const [m] = fc.sample(manifestArb, 1);
    const result = modelManifestSchema.safeParse({ ...m, sha256: 'XYZ', variant: 'int4' });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['sha256', 'variant']));
  });

  it('rejects a signature that is not 64 bytes', () => {
    const [m] = fc.sample(manifestArb, 1);
    const result = signedManifestSchema.safeParse({
      manifest: m,
      signature: { alg: 'ed25519', keyId: '0123456789abcdef', value: 'AAAA' },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('signature must be 64 bytes of base64');
  });
});

describe('preprocessing spec', () => {
  it('applies scale, mean/std, inversion and layout', () => {
    const nchw = preprocessingSpecSchema.parse({
      layout: 'NCHW',
      channels: 3,
      height: 1,
      width: 2,
      mean: [0.5],
      std: [0.5],
    });
    // two RGB pixels: (255,0,0) and (0,255,255)
    const pixels = Uint8Array.from([255, 0, 0, 0, 255, 255]);
    expect(Array.from(pixelsToTensor(pixels, nchw))).toEqual([1, -1, -1, 1, -1, 1]);
    const nhwc = { ...nchw, layout: 'NHWC' as const };
    expect(Array.from(pixelsToTensor(pixels, nhwc))).toEqual([1, -1, -1, -1, 1, 1]);
    const inverted = preprocessingSpecSchema.parse({
      layout: 'NCHW',
      channels: 1,
      height: 1,
      width: 2,
      invert: true,
    });
    expect(Array.from(pixelsToTensor(Uint8Array.from([0, 255]), inverted))).toEqual([1, 0]);
    expect(inputShape(nhwc, 4)).toEqual([4, 1, 2, 3]);
  });

  it('rejects a wrong pixel count and mean/std of the wrong length', () => {
    const spec = preprocessingSpecSchema.parse({ layout: 'NCHW', channels: 1, height: 2, width: 2 });
    expect(() => pixelsToTensor(new Uint8Array(3), spec)).toThrow('expected 4 pixel values');
    const bad = preprocessingSpecSchema.safeParse({
      layout: 'NCHW',
      channels: 3,
      height: 2,
      width: 2,
      mean: [1, 2],
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['mean']);
  });
});
