import type { ModelProto, ValueInfoProto } from './codec.ts';
import { OnnxFormatError } from './errors.ts';
import { runtimeInputs } from './graph.ts';
import { DataType, toNumber } from './tensor.ts';

export type ImageLayout = 'NCHW' | 'NHWC';

/** The one image tensor a vision model reads: 4-D float, 1 or 3 channels, fixed height and width. */
export interface ImageInput {
  name: string;
  layout: ImageLayout;
  channels: number;
  height: number;
  width: number;
  /** Fixed batch size, or null when the batch dimension is dynamic. */
  batch: number | null;
}

/** A dimension as declared: a number when fixed, null when symbolic or missing. */
export function declaredDims(info: ValueInfoProto): (number | null)[] | undefined {
  const shape = info.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) =>
    d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : null,
  );
}

const isChannelCount = (d: number | null | undefined) => d === 1 || d === 3;

/** Finds the image input or throws ONNX_UNSUPPORTED_INPUT saying what the model declares instead. */
export function detectImageInput(model: ModelProto): ImageInput {
  const inputs = runtimeInputs(model.graph ?? {});
  if (inputs.length !== 1) {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_INPUT',
      `Unsupported model input: expected exactly one image input, found ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const input = inputs[0]!;
  const elemType = input.type?.tensorType?.elemType;
  if (elemType !== DataType.FLOAT) {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_INPUT',
      `Unsupported model input '${input.name}': element type ${DataType[elemType ?? 0] ?? elemType}, expected float32`,
    );
  }
  const dims = declaredDims(input);
  const shown = JSON.stringify(dims?.map((d) => d ?? 'N'));
  if (dims?.length !== 4) {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_INPUT',
      `Unsupported model input '${input.name}' with shape ${shown ?? 'unknown'}: expected a 4-D image tensor [N,C,H,W] or [N,H,W,C]`,
    );
  }
  const [n, d1, d2, d3] = dims;
  let layout: ImageLayout;
  let channels: number;
  let height: number | null | undefined;
  let width: number | null | undefined;
  // A [N,3,H,3] ambiguity is resolved as NCHW, the ONNX convention for convolutions.
  if (isChannelCount(d1)) [layout, channels, height, width] = ['NCHW', d1!, d2, d3];
  else if (isChannelCount(d3)) [layout, channels, height, width] = ['NHWC', d3!, d1, d2];
  else {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_INPUT',
      `Unsupported model input '${input.name}' with shape ${shown}: no dimension of 1 or 3 channels in NCHW or NHWC position`,
    );
  }
  if (!height || !width) {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_INPUT',
      `Unsupported model input '${input.name}' with shape ${shown}: height and width must be fixed numbers`,
    );
  }
  return { name: input.name ?? '', layout, channels, height, width, batch: n ?? null };
}

/** Converts NCHW images (the dataset layout) to the layout a model expects. */
export function toLayout(
  nchw: Float32Array,
  count: number,
  shape: { channels: number; height: number; width: number },
  layout: ImageLayout,
): Float32Array {
  if (layout === 'NCHW' || shape.channels === 1) return nchw;
  const { channels: c, height: h, width: w } = shape;
  const out = new Float32Array(nchw.length);
  for (let n = 0; n < count; n++) {
    const base = n * c * h * w;
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[base + (y * w + x) * c + ch] = nchw[base + (ch * h + y) * w + x]!;
  }
  return out;
}
