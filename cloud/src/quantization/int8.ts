// The arithmetic of int8 quantization, apart from any graph: symmetric per-channel weights (zero
// point 0, range ±127 as onnxruntime's S8S8 default), asymmetric int8 activations, int32 biases.

export interface SymmetricInt8 {
  values: Int8Array;
  /** One scale per channel along `axis`, or a single scale for per-tensor. */
  scales: Float32Array;
}

export interface AffineParams {
  scale: number;
  zeroPoint: number;
}

// A scale of 0 (an all-zero channel or a constant activation) would divide by zero when quantizing
// and is rejected by DequantizeLinear kernels; any positive scale represents zeros exactly.
const MIN_SCALE = 1e-12;

function clampInt8(v: number): number {
  return Math.max(-128, Math.min(127, v));
}

/** Splits a tensor of `dims` around `axis` into (outer, channels, inner) strides. */
function channelLayout(dims: readonly number[], axis: number) {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { outer, channels, inner };
}

export function quantizeSymmetricPerChannel(
  data: Float32Array,
  dims: readonly number[],
  axis: number,
): SymmetricInt8 {
  const { outer, channels, inner } = channelLayout(dims, axis);
  const maxAbs = new Float32Array(channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < inner; i++) {
        const v = Math.abs(data[(o * channels + c) * inner + i]!);
        if (v > maxAbs[c]!) maxAbs[c] = v;
      }
  const scales = maxAbs.map((m) => Math.max(m / 127, MIN_SCALE));
  const values = new Int8Array(data.length);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < inner; i++) {
        const k = (o * channels + c) * inner + i;
        values[k] = clampInt8(Math.round(data[k]! / scales[c]!));
      }
  return { values, scales };
}

export function quantizeSymmetricPerTensor(data: Float32Array): SymmetricInt8 {
  return quantizeSymmetricPerChannel(data, [data.length], -1);
}

/** Asymmetric int8 parameters covering [min, max] and always 0 (so padding and ReLU stay exact). */
export function affineParams(min: number, max: number): AffineParams {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const scale = Math.max((hi - lo) / 255, MIN_SCALE);
  return { scale, zeroPoint: clampInt8(Math.round(-128 - lo / scale)) };
}

export function quantizeAffine(data: Float32Array, p: AffineParams): Int8Array {
  return Int8Array.from(data, (v) => clampInt8(Math.round(v / p.scale) + p.zeroPoint));
}

/** Bias as int32 with scale inputScale·weightScale[c], the scale the int8 accumulator carries. */
export function quantizeBiasInt32(
  bias: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { values: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(
    bias,
    (_, c) => inputScale * (weightScales.length === 1 ? weightScales[0]! : weightScales[c]!),
  );
  const values = Int32Array.from(bias, (b, c) => {
    const q = Math.round(b / Math.max(scales[c]!, MIN_SCALE));
    return Math.max(-2147483648, Math.min(2147483647, q));
  });
  return { values, scales };
}

export function dequantizePerChannel(q: SymmetricInt8, dims: readonly number[], axis: number): Float32Array {
  const perTensor = q.scales.length === 1;
  const { outer, channels, inner } = perTensor
    ? channelLayout([q.values.length], -1)
    : channelLayout(dims, axis);
  const out = new Float32Array(q.values.length);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < inner; i++) {
        const k = (o * channels + c) * inner + i;
        out[k] = q.values[k]! * q.scales[perTensor ? 0 : c]!;
      }
  return out;
}
