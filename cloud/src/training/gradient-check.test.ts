import { describe, expect, it } from 'vitest';
import { mulberry32, type Rng } from '../datasets/random.ts';
import { Conv2d } from './conv2d.ts';
import { Dense } from './dense.ts';
import { Flatten, MaxPool2, Relu } from './elementwise.ts';
import type { Layer } from './layer.ts';
import { Cnn } from './network.ts';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.ts';

/**
 * Numerical gradient checks. Each layer is wrapped in the scalar loss L = Σ output·R for a fixed
 * random R, so dL/dOutput = R; central differences of L must match what `backward` returns for the
 * input and for every parameter. Inputs are kept away from ReLU's kink and max-pool ties, so the
 * piecewise-linear layers are exactly linear within ±eps.
 */
const EPS = 1e-2;

function randomArray(n: number, rng: Rng, awayFromZero = false): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const v = rng() * 2 - 1;
    return awayFromZero ? Math.sign(v) * (0.1 + Math.abs(v)) : v;
  });
}

function weightedSum(output: Float32Array, weights: Float32Array): number {
  let s = 0;
  for (let i = 0; i < weights.length; i++) s += output[i]! * weights[i]!;
  return s;
}

/** Up to `limit` indices spread over [0, n), always including the first and last. */
function sampleIndices(n: number, limit = 40): number[] {
  if (n <= limit) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: limit }, (_, i) => Math.round((i * (n - 1)) / (limit - 1)));
}

function numericalDerivative(values: Float32Array, i: number, loss: () => number): number {
  const saved = values[i]!;
  values[i] = saved + EPS;
  const plus = loss();
  values[i] = saved - EPS;
  const minus = loss();
  values[i] = saved;
  return (plus - minus) / (2 * EPS);
}

function expectClose(numerical: number, analytic: number, what: string): void {
  const tolerance = 2e-3 * Math.max(1, Math.abs(numerical));
  expect(
    Math.abs(numerical - analytic),
    `${what}: numerical ${numerical} vs analytic ${analytic}`,
  ).toBeLessThan(tolerance);
}

function checkLayer(layer: Layer, inputSize: number, batch: number, input: Float32Array): void {
  const rng = mulberry32(99);
  const R = randomArray(layer.outputSize * batch, rng);
  const loss = () => weightedSum(layer.forward(input, batch), R);
  loss();
  const inputGrad = layer.backward(R, batch, true)!.slice();
  const paramGrads = layer.parameters.map((p) => p.grad.slice());
  expect(inputGrad.length).toBe(inputSize * batch);
  for (const i of sampleIndices(input.length))
    expectClose(numericalDerivative(input, i, loss), inputGrad[i]!, `input[${i}]`);
  layer.parameters.forEach((p, k) => {
    for (const i of sampleIndices(p.value.length)) {
      expectClose(numericalDerivative(p.value, i, loss), paramGrads[k]![i]!, `${p.name}[${i}]`);
    }
  });
}

function initialized<L extends Layer>(layer: L, seed: number): L {
  const rng = mulberry32(seed);
  for (const p of layer.parameters) p.value.set(randomArray(p.value.length, rng));
  return layer;
}

describe('gradient checks', () => {
  it('Conv2d 3×3 (weights, bias, input), 2→3 channels on 5×6, batch 2', () => {
    const conv = initialized(new Conv2d('c', 2, 3, 3, 5, 6), 1);
    checkLayer(conv, 2 * 5 * 6, 2, randomArray(2 * 5 * 6 * 2, mulberry32(2)));
  });

  it('Conv2d 5×5 with a single input channel', () => {
    const conv = initialized(new Conv2d('c', 1, 2, 5, 6, 6), 3);
    checkLayer(conv, 36, 3, randomArray(36 * 3, mulberry32(4)));
  });

  it('Relu', () => {
    checkLayer(new Relu(12), 12, 3, randomArray(36, mulberry32(5), true));
  });

  it('MaxPool2 on odd sizes (floor mode drops the last row and column)', () => {
    // Distinct values spaced far more than eps apart, so no window has a near-tie.
    const n = 2 * 5 * 7 * 2;
    const values = Float32Array.from({ length: n }, (_, i) => i * 0.05);
    const rng = mulberry32(6);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
    const pool = new MaxPool2(2, 5, 7);
    expect(pool.outputSize).toBe(2 * 2 * 3);
    checkLayer(pool, 2 * 5 * 7, 2, values);
  });

  it('Flatten', () => {
    checkLayer(new Flatten(3, 4), 12, 2, randomArray(24, mulberry32(7)));
  });

  it('Dense', () => {
    const dense = initialized(new Dense('d', 7, 5), 8);
    checkLayer(dense, 7, 3, randomArray(21, mulberry32(9)));
  });

  it('SoftmaxCrossEntropy gradient matches the loss', () => {
    const classes = 4;
    const batch = 3;
    const logits = randomArray(classes * batch, mulberry32(10));
    const labels = [2, 0, 3];
    const fn = new SoftmaxCrossEntropy(classes);
    const analytic = fn.evaluate(logits, labels, batch).gradient.slice();
    for (let i = 0; i < logits.length; i++) {
      const numerical = numericalDerivative(logits, i, () => fn.evaluate(logits, labels, batch).loss);
      expect(Math.abs(numerical - analytic[i]!)).toBeLessThan(1e-4);
    }
  });

  it('the whole CNN: every parameter gradient matches the loss', () => {
    const cnn = new Cnn({
      input: { channels: 2, height: 6, width: 6 },
      convChannels: [3, 4],
      kernel: 3,
      hidden: 5,
      classes: 3,
    });
    cnn.initialize(mulberry32(11));
    const batch = 2;
    const input = randomArray(2 * 36 * batch, mulberry32(12));
    const labels = [1, 2];
    const fn = new SoftmaxCrossEntropy(3);
    const loss = () => fn.evaluate(cnn.forward(input, batch), labels, batch).loss;
    cnn.backward(fn.evaluate(cnn.forward(input, batch), labels, batch).gradient, batch);
    const grads = cnn.parameters.map((p) => p.grad.slice());
    let checked = 0;
    cnn.parameters.forEach((p, k) => {
      for (const i of sampleIndices(p.value.length, 12)) {
        // Smaller steps here: softmax is curved, and a ReLU may sit near its kink in a real network.
        const saved = p.value[i]!;
        const h = 1e-3;
        p.value[i] = saved + h;
        const plus = loss();
        p.value[i] = saved - h;
        const minus = loss();
        p.value[i] = saved;
        const numerical = (plus - minus) / (2 * h);
        expect(Math.abs(numerical - grads[k]![i]!), `${p.name}[${i}]`).toBeLessThan(2e-3);
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(50);
  });
});
