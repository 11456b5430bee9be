import { type Layer, type Parameter, scratch } from './layer.ts';

/** max(0, x). */
export class Relu implements Layer {
  readonly parameters: readonly Parameter[] = [];
  private output: Float32Array = new Float32Array(0);
  private inputGrad: Float32Array = new Float32Array(0);

  constructor(readonly outputSize: number) {}

  /** The output of the last forward pass (the network reads its embedding here). */
  get lastOutput(): Float32Array {
    return this.output;
  }

  forward(input: Float32Array, batch: number): Float32Array {
    const n = this.outputSize * batch;
    this.output = scratch(this.output, n);
    for (let i = 0; i < n; i++) {
      const v = input[i]!;
      this.output[i] = Math.max(v, 0);
    }
    return this.output;
  }

  backward(outputGradient: Float32Array, batch: number, needInputGradient: boolean): Float32Array | null {
    if (!needInputGradient) return null;
    const n = this.outputSize * batch;
    this.inputGrad = scratch(this.inputGrad, n);
    for (let i = 0; i < n; i++) this.inputGrad[i] = this.output[i]! > 0 ? outputGradient[i]! : 0;
    return this.inputGrad;
  }
}

/**
 * 2×2 max pooling, stride 2, floor mode (ONNX MaxPool's default): an odd trailing row or column is
 * dropped. Remembers which input won each window so the gradient goes back to it alone.
 */
export class MaxPool2 implements Layer {
  readonly parameters: readonly Parameter[] = [];
  readonly outputSize: number;
  readonly outHeight: number;
  readonly outWidth: number;
  private output: Float32Array = new Float32Array(0);
  private winner: Int32Array = new Int32Array(0);
  private inputGrad: Float32Array = new Float32Array(0);

  constructor(
    readonly channels: number,
    readonly height: number,
    readonly width: number,
  ) {
    this.outHeight = Math.floor(height / 2);
    this.outWidth = Math.floor(width / 2);
    this.outputSize = channels * this.outHeight * this.outWidth;
  }

  forward(input: Float32Array, batch: number): Float32Array {
    const { width: W, outHeight: OH, outWidth: OW } = this;
    const planes = this.channels * batch;
    const n = planes * OH * OW;
    this.output = scratch(this.output, n);
    if (this.winner.length < n) this.winner = new Int32Array(n);
    const out = this.output;
    const winner = this.winner;
    let o = 0;
    for (let p = 0; p < planes; p++) {
      const base = p * this.height * W;
      for (let y = 0; y < OH; y++) {
        for (let x = 0; x < OW; x++, o++) {
          const i0 = base + 2 * y * W + 2 * x;
          let best = i0;
          let v = input[i0]!;
          // Strict > keeps the first maximum, as onnxruntime's MaxPool does.
          if (input[i0 + 1]! > v) {
            best = i0 + 1;
            v = input[best]!;
          }
          if (input[i0 + W]! > v) {
            best = i0 + W;
            v = input[best]!;
          }
          if (input[i0 + W + 1]! > v) {
            best = i0 + W + 1;
            v = input[best]!;
          }
          out[o] = v;
          winner[o] = best;
        }
      }
    }
    return out;
  }

  backward(outputGradient: Float32Array, batch: number, needInputGradient: boolean): Float32Array | null {
    if (!needInputGradient) return null;
    const n = this.channels * batch * this.outHeight * this.outWidth;
    this.inputGrad = scratch(this.inputGrad, this.channels * batch * this.height * this.width);
    this.inputGrad.fill(0);
    for (let o = 0; o < n; o++) this.inputGrad[this.winner[o]!]! += outputGradient[o]!;
    return this.inputGrad;
  }
}

/**
 * Converts a convolutional tensor [C][B][H·W] into dense features [C·H·W][B]. Feature order is
 * c·H·W + pixel, the order ONNX Flatten produces from NCHW, so dense weights export unchanged.
 */
export class Flatten implements Layer {
  readonly parameters: readonly Parameter[] = [];
  readonly outputSize: number;
  private output: Float32Array = new Float32Array(0);
  private inputGrad: Float32Array = new Float32Array(0);

  constructor(
    readonly channels: number,
    readonly pixels: number,
  ) {
    this.outputSize = channels * pixels;
  }

  forward(input: Float32Array, batch: number): Float32Array {
    this.output = scratch(this.output, this.outputSize * batch);
    this.permute(input, this.output, batch, false);
    return this.output;
  }

  backward(outputGradient: Float32Array, batch: number, needInputGradient: boolean): Float32Array | null {
    if (!needInputGradient) return null;
    this.inputGrad = scratch(this.inputGrad, this.outputSize * batch);
    this.permute(outputGradient, this.inputGrad, batch, true);
    return this.inputGrad;
  }

  private permute(from: Float32Array, to: Float32Array, batch: number, inverse: boolean): void {
    const P = this.pixels;
    for (let c = 0; c < this.channels; c++) {
      for (let b = 0; b < batch; b++) {
        const conv = (c * batch + b) * P;
        for (let p = 0; p < P; p++) {
          const dense = (c * P + p) * batch + b;
          if (inverse) to[conv + p] = from[dense]!;
          else to[dense] = from[conv + p]!;
        }
      }
    }
  }
}
