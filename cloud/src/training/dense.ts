import { gemm, gemmTransposedB, transpose } from './gemm.ts';
import { type Layer, newParameter, type Parameter, scratch } from './layer.ts';

/** Fully connected layer on [features][batch] activations: y = W·x + b, W stored [out × in] (ONNX Gemm transB=1). */
export class Dense implements Layer {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly parameters: readonly Parameter[];
  readonly outputSize: number;
  private input: Float32Array = new Float32Array(0);
  private output: Float32Array = new Float32Array(0);
  private weightT: Float32Array = new Float32Array(0);
  private inputGrad: Float32Array = new Float32Array(0);

  constructor(
    name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    this.weight = newParameter(`${name}.weight`, [outFeatures, inFeatures]);
    this.bias = newParameter(`${name}.bias`, [outFeatures]);
    this.parameters = [this.weight, this.bias];
    this.outputSize = outFeatures;
  }

  forward(input: Float32Array, batch: number): Float32Array {
    this.input = input;
    this.output = scratch(this.output, this.outFeatures * batch);
    gemm(this.outFeatures, this.inFeatures, batch, this.weight.value, input, this.output);
    for (let o = 0; o < this.outFeatures; o++) {
      const b = this.bias.value[o]!;
      for (let i = o * batch, end = i + batch; i < end; i++) this.output[i]! += b;
    }
    return this.output;
  }

  backward(outputGradient: Float32Array, batch: number, needInputGradient: boolean): Float32Array | null {
    gemmTransposedB(this.outFeatures, batch, this.inFeatures, outputGradient, this.input, this.weight.grad);
    for (let o = 0; o < this.outFeatures; o++) {
      let s = 0;
      for (let i = o * batch, end = i + batch; i < end; i++) s += outputGradient[i]!;
      this.bias.grad[o] = s;
    }
    if (!needInputGradient) return null;
    this.weightT = scratch(this.weightT, this.inFeatures * this.outFeatures);
    transpose(this.outFeatures, this.inFeatures, this.weight.value, this.weightT);
    this.inputGrad = scratch(this.inputGrad, this.inFeatures * batch);
    gemm(this.inFeatures, this.outFeatures, batch, this.weightT, outputGradient, this.inputGrad);
    return this.inputGrad;
  }
}
