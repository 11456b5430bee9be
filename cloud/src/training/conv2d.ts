import { gemm, gemmTransposedB, transpose } from './gemm.ts';
import { type Layer, newParameter, type Parameter, scratch } from './layer.ts';

/**
 * Square-kernel convolution, stride 1, "same" zero padding (ONNX Conv with pads = k/2), computed as
 * im2col + GEMM: the batch's patches become one [Ci·k·k × B·H·W] matrix, so forward is
 * W[Co × Ci·k·k] · cols and the weight gradient is dY · colsᵀ.
 */
export class Conv2d implements Layer {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly parameters: readonly Parameter[];
  readonly outputSize: number;
  private readonly patch: number;
  private readonly pad: number;
  private cols: Float32Array = new Float32Array(0);
  private output: Float32Array = new Float32Array(0);
  private weightT: Float32Array = new Float32Array(0);
  private colsGrad: Float32Array = new Float32Array(0);
  private inputGrad: Float32Array = new Float32Array(0);

  constructor(
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly height: number,
    readonly width: number,
  ) {
    if (kernel % 2 !== 1) throw new RangeError(`kernel must be odd for same padding, got ${kernel}`);
    this.pad = (kernel - 1) / 2;
    this.patch = inChannels * kernel * kernel;
    this.weight = newParameter(`${name}.weight`, [outChannels, inChannels, kernel, kernel]);
    this.bias = newParameter(`${name}.bias`, [outChannels]);
    this.parameters = [this.weight, this.bias];
    this.outputSize = outChannels * height * width;
  }

  forward(input: Float32Array, batch: number): Float32Array {
    const pixels = batch * this.height * this.width;
    this.cols = scratch(this.cols, this.patch * pixels);
    this.output = scratch(this.output, this.outChannels * pixels);
    this.im2col(input, batch, this.cols);
    gemm(this.outChannels, this.patch, pixels, this.weight.value, this.cols, this.output);
    const bias = this.bias.value;
    for (let o = 0; o < this.outChannels; o++) {
      const b = bias[o]!;
      const row = this.output.subarray(o * pixels, (o + 1) * pixels);
      for (let p = 0; p < pixels; p++) row[p]! += b;
    }
    return this.output;
  }

  backward(outputGradient: Float32Array, batch: number, needInputGradient: boolean): Float32Array | null {
    const pixels = batch * this.height * this.width;
    gemmTransposedB(this.outChannels, pixels, this.patch, outputGradient, this.cols, this.weight.grad);
    const biasGrad = this.bias.grad;
    for (let o = 0; o < this.outChannels; o++) {
      let s = 0;
      for (let p = o * pixels, end = p + pixels; p < end; p++) s += outputGradient[p]!;
      biasGrad[o] = s;
    }
    if (!needInputGradient) return null;
    this.weightT = scratch(this.weightT, this.patch * this.outChannels);
    transpose(this.outChannels, this.patch, this.weight.value, this.weightT);
    this.colsGrad = scratch(this.colsGrad, this.patch * pixels);
    gemm(this.patch, this.outChannels, pixels, this.weightT, outputGradient, this.colsGrad);
    this.inputGrad = scratch(this.inputGrad, this.inChannels * pixels);
    this.col2im(this.colsGrad, batch, this.inputGrad);
    return this.inputGrad;
  }

  /** cols[(ci·k + ky)·k + kx][b·H·W + y·W + x] = input[ci][b][y + ky - pad][x + kx - pad], 0 outside. */
  private im2col(input: Float32Array, batch: number, cols: Float32Array): void {
    const { height: H, width: W, kernel: k, pad } = this;
    const plane = H * W;
    const pixels = batch * plane;
    for (let ci = 0; ci < this.inChannels; ci++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const rowBase = ((ci * k + ky) * k + kx) * pixels;
          const dy = ky - pad;
          const dx = kx - pad;
          const xStart = Math.max(0, -dx);
          const xEnd = Math.min(W, W - dx);
          for (let b = 0; b < batch; b++) {
            const src = (ci * batch + b) * plane;
            const dst = rowBase + b * plane;
            for (let y = 0; y < H; y++) {
              const sy = y + dy;
              const d = dst + y * W;
              if (sy < 0 || sy >= H) {
                cols.fill(0, d, d + W);
                continue;
              }
              for (let x = 0; x < xStart; x++) cols[d + x] = 0;
              const s = src + sy * W + dx;
              for (let x = xStart; x < xEnd; x++) cols[d + x] = input[s + x]!;
              for (let x = xEnd; x < W; x++) cols[d + x] = 0;
            }
          }
        }
      }
    }
  }

  /** The adjoint of im2col: every patch entry's gradient is added back to the pixel it was read from. */
  private col2im(cols: Float32Array, batch: number, grad: Float32Array): void {
    const { height: H, width: W, kernel: k, pad } = this;
    const plane = H * W;
    const pixels = batch * plane;
    grad.fill(0);
    for (let ci = 0; ci < this.inChannels; ci++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const rowBase = ((ci * k + ky) * k + kx) * pixels;
          const dy = ky - pad;
          const dx = kx - pad;
          const xStart = Math.max(0, -dx);
          const xEnd = Math.min(W, W - dx);
          for (let b = 0; b < batch; b++) {
            const dst = (ci * batch + b) * plane;
            const src = rowBase + b * plane;
            for (let y = 0; y < H; y++) {
              const sy = y + dy;
              if (sy < 0 || sy >= H) continue;
              const s = src + y * W;
              const d = dst + sy * W + dx;
              for (let x = xStart; x < xEnd; x++) grad[d + x]! += cols[s + x]!;
            }
          }
        }
      }
    }
  }
}
