// Setup, the model: a 784-H-10 MLP with seeded weights, sized so that the variant `simulated` devices
// take (int8, per firmware-configs/simulated.yaml) is about the requested size. Versions share the
// weights and differ in one bias, so their bytes differ while the health gates compare like with like.
import { GraphBuilder } from '@edgeloop/cloud';
import type { ImportedVersion } from './cloud.ts';

/**
 * Bytes per hidden unit of the int8 artifact: 784 + 10 int8 weights plus the fp32 bias and
 * quantization parameters. The measured size is what the bench reports; this only picks H.
 */
const INT8_BYTES_PER_HIDDEN = 798;

/** The hidden width whose int8 artifact is about `modelMb` MiB. */
export function hiddenForMegabytes(modelMb: number): number {
  return Math.max(16, Math.round((modelMb * 1024 * 1024) / INT8_BYTES_PER_HIDDEN));
}

/** A 784-hidden-10 MLP with seeded weights; `variantSeed` perturbs one bias so the bytes differ. */
export function mlpModel(hidden: number, variantSeed: number): Uint8Array {
  let state = 12345;
  const random = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff - 0.5;
  };
  const w1 = Float32Array.from({ length: 784 * hidden }, () => random() * 0.1);
  const b1 = Float32Array.from({ length: hidden }, () => random() * 0.01);
  const w2 = Float32Array.from({ length: hidden * 10 }, () => random() * 0.3);
  const b2 = new Float32Array(10);
  // Large enough to survive int8 quantization (a 1e-6 nudge left the int8 artifact byte-identical at
  // H = 1314, so the agents already had it and nothing was downloaded), small enough for the gates.
  b1[0] = (b1[0] as number) + variantSeed * 1e-3;
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', ['N', 1, 28, 28]);
  const flat = b.node('Flatten', [x], { axis: 1 });
  const h = b.node('Relu', [
    b.node('Add', [
      b.node('MatMul', [flat, b.initializer('w1', [784, hidden], w1)]),
      b.initializer('b1', [hidden], b1),
    ]),
  ]);
  const logits = b.node(
    'Add',
    [b.node('MatMul', [h, b.initializer('w2', [hidden, 10], w2)]), b.initializer('b2', [10], b2)],
    {},
    'logits',
  );
  b.output(logits, ['N', 10]);
  return b.toBytes();
}

export function int8Of(version: ImportedVersion) {
  const v = version.variants.find((x) => x.variant === 'int8');
  if (!v) throw new Error(`no int8 variant in ${JSON.stringify(version)}`);
  return v;
}
