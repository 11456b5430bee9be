// A tiny classifier whose answers are known in advance: the 28×28 grey image is cut into ten
// vertical bands and class k's logit is the mean brightness of band k (times a gain, so softmax is
// confident). A white vertical stroke drawn in band 7 is class 7. `reversed` maps band k to class
// 9 - k, which makes "the new version" visibly different after an update.
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  base64Encode,
  type ModelManifest,
  type ModelManifestInput,
  manifestSigningBytes,
  modelManifestSchema,
  type Signature,
} from '@edgeloop/shared';
import p from 'onnx-proto';

const { onnx } = p;

export const SIDE = 28;
export const CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const GAIN = 20;

/** Which class a pixel column votes for. */
export function bandOf(x: number, reversed: boolean): number {
  const band = Math.min(9, Math.floor((x * 10) / SIDE));
  return reversed ? 9 - band : band;
}

/** The [784, 10] weight matrix, row-major (pixel, class). */
export function bandWeights(reversed: boolean): Float32Array {
  const w = new Float32Array(SIDE * SIDE * 10);
  const counts = new Array<number>(10).fill(0);
  for (let x = 0; x < SIDE; x++) counts[bandOf(x, reversed)] = (counts[bandOf(x, reversed)] ?? 0) + SIDE;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const k = bandOf(x, reversed);
      w[(y * SIDE + x) * 10 + k] = GAIN / (counts[k] ?? 1);
    }
  }
  return w;
}

/** What the model must output for a preprocessed input: softmax(x · W). */
export function expectedProbabilities(input: ArrayLike<number>, reversed: boolean): number[] {
  const w = bandWeights(reversed);
  const logits = new Array<number>(10).fill(0);
  for (let i = 0; i < SIDE * SIDE; i++) {
    for (let k = 0; k < 10; k++) logits[k] = (logits[k] ?? 0) + (input[i] ?? 0) * (w[i * 10 + k] ?? 0);
  }
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** input [batch,1,28,28] → Flatten → MatMul → `logits` [batch,10]. */
export function bandClassifierOnnx(reversed: boolean): Uint8Array {
  const w = bandWeights(reversed);
  const dim = (d: number | string) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map(dim) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'edgeloop-web-sdk-test',
    graph: {
      name: 'bands',
      node: [
        {
          opType: 'Flatten',
          input: ['input'],
          output: ['flat'],
          attribute: [{ name: 'axis', i: 1, type: 2 }],
        },
        { opType: 'MatMul', input: ['flat', 'w'], output: ['logits'] },
      ],
      initializer: [
        {
          name: 'w',
          dims: [SIDE * SIDE, 10],
          dataType: onnx.TensorProto.DataType.FLOAT,
          rawData: new Uint8Array(w.buffer, w.byteOffset, w.byteLength),
        },
      ],
      input: [valueInfo('input', ['batch', 1, SIDE, SIDE])],
      output: [valueInfo('logits', ['batch', 10])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface SigningKey {
  privateKey: KeyObject;
  publicRaw: Uint8Array;
  keyId: string;
}

export function signingKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const publicRaw = new Uint8Array(der.subarray(der.length - 32));
  return { privateKey, publicRaw, keyId: createHash('sha256').update(publicRaw).digest('hex').slice(0, 16) };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function manifestFor(
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
    input: { name: 'input', shape: ['batch', 1, SIDE, SIDE], dtype: 'float32' },
    outputs: [{ name: 'logits', shape: ['batch', 10], dtype: 'float32', role: 'logits' }],
    classes: CLASSES,
    preprocessing: { layout: 'NCHW', channels: 1, height: SIDE, width: SIDE },
    ...overrides,
  } satisfies ModelManifestInput);
}

/** Signs exactly as the cloud registry does: Ed25519 over manifestSigningBytes. */
export function signManifest(manifest: ModelManifest, key: SigningKey): Signature {
  const value = sign(null, manifestSigningBytes(manifest), key.privateKey);
  return { alg: 'ed25519', keyId: key.keyId, value: base64Encode(new Uint8Array(value)) };
}
