import type { ImageShape } from '../datasets/dataset.ts';
import { gaussian, type Rng } from '../datasets/random.ts';
import { Conv2d } from './conv2d.ts';
import { Dense } from './dense.ts';
import { Flatten, MaxPool2, Relu } from './elementwise.ts';
import type { Layer, Parameter } from './layer.ts';

/**
 * The family of CNNs the built-in trainer builds: for each entry of `convChannels` a
 * conv(k×k, same padding) → 2×2 max-pool → ReLU block, then flatten → dense(`hidden`) → ReLU (the
 * embedding used for drift) → dense(`classes`) logits.
 */
export interface CnnArchitecture {
  input: ImageShape;
  convChannels: number[];
  kernel: number;
  hidden: number;
  classes: number;
}

/** A trained network's weights, in the order and layout the ONNX export writes them. */
export interface CnnWeights {
  architecture: CnnArchitecture;
  tensors: { name: string; shape: number[]; values: Float32Array }[];
}

export interface CnnOutputs {
  /** [count × classes], row-major. */
  logits: Float32Array;
  /** [count × classes], softmax of the logits. */
  probabilities: Float32Array;
  /** [count × hidden], the post-ReLU hidden layer. */
  embedding: Float32Array;
}

export class Cnn {
  readonly layers: Layer[];
  readonly parameters: Parameter[];
  /** The ReLU whose output is the embedding. */
  private readonly embeddingLayer: Relu;
  private batchInput: Float32Array = new Float32Array(0);

  constructor(readonly architecture: CnnArchitecture) {
    const { input, convChannels, kernel, hidden, classes } = architecture;
    this.layers = [];
    let channels = input.channels;
    let height = input.height;
    let width = input.width;
    convChannels.forEach((out, i) => {
      const conv = new Conv2d(`conv${i + 1}`, channels, out, kernel, height, width);
      const pool = new MaxPool2(out, height, width);
      // Pooling before the ReLU gives the same values (max commutes with a monotonic function) and
      // runs the ReLU on a quarter of the pixels.
      this.layers.push(conv, pool, new Relu(pool.outputSize));
      channels = out;
      height = pool.outHeight;
      width = pool.outWidth;
    });
    this.layers.push(new Flatten(channels, height * width));
    const features = channels * height * width;
    this.embeddingLayer = new Relu(hidden);
    this.layers.push(
      new Dense('hidden', features, hidden),
      this.embeddingLayer,
      new Dense('output', hidden, classes),
    );
    this.parameters = this.layers.flatMap((l) => [...l.parameters]);
  }

  /** He-normal weights (suits ReLU), zero biases; the same seed stream gives the same network. */
  initialize(rng: Rng): void {
    for (const p of this.parameters) {
      if (p.name.endsWith('.bias')) {
        p.value.fill(0);
        continue;
      }
      const fanIn = p.shape.slice(1).reduce((a, b) => a * b, 1);
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < p.value.length; i++) p.value[i] = gaussian(rng) * std;
    }
  }

  /** Forward pass on a batch already in [C][batch][H][W] layout; returns logits [classes][batch]. */
  forward(input: Float32Array, batch: number): Float32Array {
    let x = input;
    for (const layer of this.layers) x = layer.forward(x, batch);
    return x;
  }

  /** Backpropagates dLoss/dLogits through every layer, filling each parameter's `grad`. */
  backward(logitsGradient: Float32Array, batch: number): void {
    let g: Float32Array | null = logitsGradient;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) g = this.layers[i]!.backward(g, batch, i > 0);
  }

  /**
   * Copies images `order[start..start+batch)` of an NCHW pool into this network's [C][batch][H·W]
   * input layout and returns that buffer.
   */
  gatherBatch(images: Float32Array, order: ArrayLike<number>, start: number, batch: number): Float32Array {
    const { channels, height, width } = this.architecture.input;
    const plane = height * width;
    const size = channels * plane;
    if (this.batchInput.length < size * batch) this.batchInput = new Float32Array(size * batch);
    const out = this.batchInput.subarray(0, size * batch);
    for (let b = 0; b < batch; b++) {
      const from = order[start + b]! * size;
      for (let c = 0; c < channels; c++) {
        out.set(images.subarray(from + c * plane, from + (c + 1) * plane), (c * batch + b) * plane);
      }
    }
    return out;
  }

  /** Runs the network on `count` NCHW images and returns all three contract outputs, row-major. */
  predict(images: Float32Array, count: number, batchSize = 128): CnnOutputs {
    const { classes, hidden } = this.architecture;
    const logits = new Float32Array(count * classes);
    const probabilities = new Float32Array(count * classes);
    const embedding = new Float32Array(count * hidden);
    const order = identity(count);
    for (let start = 0; start < count; start += batchSize) {
      const batch = Math.min(batchSize, count - start);
      const out = this.forward(this.gatherBatch(images, order, start, batch), batch);
      const emb = this.embeddingLayer.lastOutput;
      for (let b = 0; b < batch; b++) {
        const row = (start + b) * classes;
        let max = -Infinity;
        for (let c = 0; c < classes; c++) {
          const v = out[c * batch + b]!;
          logits[row + c] = v;
          if (v > max) max = v;
        }
        let sum = 0;
        for (let c = 0; c < classes; c++) {
          const e = Math.exp(logits[row + c]! - max);
          probabilities[row + c] = e;
          sum += e;
        }
        for (let c = 0; c < classes; c++) probabilities[row + c]! /= sum;
        for (let h = 0; h < hidden; h++) embedding[(start + b) * hidden + h] = emb[h * batch + b]!;
      }
    }
    return { logits, probabilities, embedding };
  }

  /** Fraction of `count` images whose arg-max class equals the label. */
  accuracy(images: Float32Array, labels: Uint8Array, count: number): number {
    if (count === 0) return 0;
    const { logits } = this.predict(images, count);
    const classes = this.architecture.classes;
    let correct = 0;
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
      if (best === labels[i]) correct++;
    }
    return correct / count;
  }

  weights(): CnnWeights {
    return {
      architecture: structuredClone(this.architecture),
      tensors: this.parameters.map((p) => ({ name: p.name, shape: [...p.shape], values: p.value.slice() })),
    };
  }

  static fromWeights(weights: CnnWeights): Cnn {
    const cnn = new Cnn(weights.architecture);
    for (const p of cnn.parameters) {
      const t = weights.tensors.find((w) => w.name === p.name);
      if (!t || t.values.length !== p.value.length) throw new RangeError(`weights lack a matching ${p.name}`);
      p.value.set(t.values);
    }
    return cnn;
  }
}

function identity(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
