/**
 * The shape every layer of the built-in CNN shares.
 *
 * Activations are stored feature-major with the batch inside: a convolutional tensor is
 * [channels][batch][height][width] and a dense one is [features][batch]. With that layout a whole
 * batch of convolutions is a single matrix product (weights × im2col columns) and a dense layer is
 * weights × activations, so the GEMM always sees long rows.
 */
export interface Parameter {
  /** Stable name, used by export and tests (`conv1.weight`, `hidden.bias`, …). */
  readonly name: string;
  /** Shape in ONNX order (OIHW for convolutions, [out, in] for dense weights). */
  readonly shape: readonly number[];
  readonly value: Float32Array;
  /** Gradient of the mean batch loss, written by `backward`. */
  readonly grad: Float32Array;
}

export interface Layer {
  readonly parameters: readonly Parameter[];
  /** Values per sample at the output, e.g. C*H*W. */
  readonly outputSize: number;
  /** Returns a buffer owned by the layer, valid until its next forward call. */
  forward(input: Float32Array, batch: number): Float32Array;
  /**
   * Given dLoss/dOutput of the last forward, fills the parameter gradients and returns
   * dLoss/dInput (a buffer owned by the layer), or null when `needInputGradient` is false.
   */
  backward(outputGradient: Float32Array, batch: number, needInputGradient: boolean): Float32Array | null;
}

export function newParameter(name: string, shape: readonly number[]): Parameter {
  const size = shape.reduce((a, b) => a * b, 1);
  return { name, shape, value: new Float32Array(size), grad: new Float32Array(size) };
}

/** Reuses a scratch buffer while it is large enough: batches repeat their size, so this allocates once. */
export function scratch(current: Float32Array, size: number): Float32Array {
  return current.length >= size ? current.subarray(0, size) : new Float32Array(size);
}
