// Small programmatic models in the shapes users bring (BatchNorm, NHWC, MatMul heads, old opsets),
// for the quantizer's tests and the benchmark's dry run. Weights are seeded, so runs repeat.
import { float, GraphBuilder } from '../onnx/index.ts';

export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weights(random: () => number, length: number, scale: number): Float32Array {
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

export interface TestModelOptions {
  opset?: number;
  seed?: number;
  /** Insert an op outside the int8 set after the first convolution. */
  unsupportedOp?: string;
}

/** input [N,1,8,8] → Conv+BN+Relu → MaxPool → Conv+Relu → Flatten → Gemm → logits, Softmax → probabilities. */
export function convBnCnn(options: TestModelOptions = {}): Uint8Array {
  const r = seededRandom(options.seed ?? 1);
  const b = new GraphBuilder({ opset: options.opset ?? 13 });
  const x = b.input('input', ['N', 1, 8, 8]);
  const c1 = b.node(
    'Conv',
    [
      x,
      b.initializer('c1.w', [4, 1, 3, 3], weights(r, 36, 0.6)),
      b.initializer('c1.b', [4], weights(r, 4, 0.1)),
    ],
    {
      pads: [1, 1, 1, 1],
      kernel_shape: [3, 3],
    },
  );
  const bn = b.node(
    'BatchNormalization',
    [
      c1,
      b.initializer(
        'bn.gamma',
        [4],
        Float32Array.from({ length: 4 }, () => 0.5 + r()),
      ),
      b.initializer('bn.beta', [4], weights(r, 4, 0.2)),
      b.initializer('bn.mean', [4], weights(r, 4, 0.3)),
      b.initializer(
        'bn.var',
        [4],
        Float32Array.from({ length: 4 }, () => 0.2 + r()),
      ),
    ],
    { epsilon: float(1e-5) },
  );
  let h = b.node('Relu', [bn]);
  if (options.unsupportedOp) h = b.node(options.unsupportedOp, [h]);
  h = b.node('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  const c2 = b.node(
    'Conv',
    [
      h,
      b.initializer('c2.w', [8, 4, 3, 3], weights(r, 288, 0.3)),
      b.initializer('c2.b', [8], weights(r, 8, 0.1)),
    ],
    {
      pads: [1, 1, 1, 1],
    },
  );
  const flat = b.node('Flatten', [b.node('Relu', [c2])], { axis: 1 }, 'embedding');
  const logits = b.node(
    'Gemm',
    [
      flat,
      b.initializer('fc.w', [10, 128], weights(r, 1280, 0.2)),
      b.initializer('fc.b', [10], weights(r, 10, 0.1)),
    ],
    { transB: 1 },
    'logits',
  );
  b.node('Softmax', [logits], { axis: 1 }, 'probabilities');
  b.output('logits', ['N', 10]);
  b.output('probabilities', ['N', 10]);
  b.output('embedding', ['N', 128]);
  return b.toBytes();
}

/** input [N,8,8,1] (NHWC, as TensorFlow exports) → Transpose → Conv+Relu → GlobalAveragePool → Flatten → Gemm. */
export function nhwcCnn(seed = 2): Uint8Array {
  const r = seededRandom(seed);
  const b = new GraphBuilder({ opset: 13 });
  const x = b.node('Transpose', [b.input('input', ['N', 8, 8, 1])], { perm: [0, 3, 1, 2] });
  const c = b.node('Conv', [x, b.initializer('w', [6, 1, 3, 3], weights(r, 54, 0.6))], {
    pads: [1, 1, 1, 1],
  });
  const g = b.node('Flatten', [b.node('GlobalAveragePool', [b.node('Relu', [c])])], { axis: 1 });
  b.node(
    'Gemm',
    [
      g,
      b.initializer('fc.w', [6, 10], weights(r, 60, 0.8)),
      b.initializer('fc.b', [10], weights(r, 10, 0.1)),
    ],
    {},
    'logits',
  );
  b.output('logits', ['N', 10]);
  return b.toBytes();
}

/** input [N,1,8,8] → Conv+Relu → Reshape → MatMul → Add → logits (the PyTorch Linear export form). */
export function matMulHeadCnn(seed = 3): Uint8Array {
  const r = seededRandom(seed);
  const b = new GraphBuilder({ opset: 13 });
  const c = b.node(
    'Conv',
    [b.input('input', ['N', 1, 8, 8]), b.initializer('w', [4, 1, 3, 3], weights(r, 36, 0.6))],
    {
      pads: [1, 1, 1, 1],
      strides: [2, 2],
    },
  );
  const flat = b.node('Reshape', [b.node('Relu', [c]), b.int64Initializer('shape', [-1, 64])]);
  const mm = b.node('MatMul', [flat, b.initializer('fc.w', [64, 10], weights(r, 640, 0.3))]);
  b.node('Add', [mm, b.initializer('fc.b', [10], weights(r, 10, 0.1))], {}, 'logits');
  b.output('logits', ['N', 10]);
  return b.toBytes();
}

/** Random images in [0, 1] with some spatial structure (blobs), NCHW. */
export function randomImages(count: number, channels: number, size: number, seed = 7): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(count * channels * size * size);
  for (let n = 0; n < count; n++) {
    const cx = r() * size;
    const cy = r() * size;
    const radius = 1 + r() * size * 0.4;
    for (let c = 0; c < channels; c++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const d = Math.hypot(x - cx, y - cy);
          out[((n * channels + c) * size + y) * size + x] = Math.min(
            1,
            Math.max(0, 1 - d / radius + 0.1 * r()),
          );
        }
  }
  return out;
}
