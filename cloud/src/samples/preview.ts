// A sample's tensor as a PNG an operator can look at before labelling it. The tensor is what the
// model saw (normalised floats); with the model version's preprocessing spec the normalisation is
// undone exactly, without it each image is stretched to its own min..max.
import { EdgeloopError, type PreprocessingSpec } from '@edgeloop/shared';
import sharp from 'sharp';

export interface ImageGeometry {
  channels: 1 | 3;
  height: number;
  width: number;
  layout: 'CHW' | 'HWC';
}

/** Largest preview edge, after scaling. */
const MAX_EDGE = 2048;

/**
 * How to read `shape` as one image: the spec's geometry when the element count matches it (a
 * flattened MLP input too), else [N=1,]C,H,W or H,W,C with C of 1 or 3, or H,W.
 */
export function imageGeometry(shape: readonly number[], spec?: PreprocessingSpec): ImageGeometry | undefined {
  const elements = shape.reduce((n, d) => n * d, 1);
  if (spec && elements === spec.channels * spec.height * spec.width) {
    return {
      channels: spec.channels,
      height: spec.height,
      width: spec.width,
      layout: spec.layout === 'NCHW' ? 'CHW' : 'HWC',
    };
  }
  const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : [...shape];
  if (dims.length === 2)
    return { channels: 1, height: dims[0] as number, width: dims[1] as number, layout: 'CHW' };
  if (dims.length !== 3) return undefined;
  const [a, b, c] = dims as [number, number, number];
  if (a === 1 || a === 3) return { channels: a, height: b, width: c, layout: 'CHW' };
  if (c === 1 || c === 3) return { channels: c, height: a, width: b, layout: 'HWC' };
  return undefined;
}

/** Interleaved 8-bit pixels (HWC) from the tensor. */
export function tensorPixels(
  tensor: Float32Array,
  geometry: ImageGeometry,
  spec?: PreprocessingSpec,
): Uint8Array {
  const { channels, height, width, layout } = geometry;
  const plane = height * width;
  const pixels = new Uint8Array(plane * channels);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  if (!spec) {
    for (const v of tensor) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  const range = hi - lo > 0 ? hi - lo : 1;
  for (let ch = 0; ch < channels; ch++) {
    const mean = spec ? (spec.mean[ch] ?? spec.mean[0] ?? 0) : 0;
    const std = spec ? (spec.std[ch] ?? spec.std[0] ?? 1) : 1;
    for (let p = 0; p < plane; p++) {
      const v = tensor[layout === 'CHW' ? ch * plane + p : p * channels + ch] ?? 0;
      let value: number;
      if (spec) {
        // x = ((pixel × scale) [inverted] − mean) / std, so pixel = (x × std + mean [inverted]) / scale.
        const scaled = v * std + mean;
        value = (spec.invert ? 1 - scaled : scaled) / spec.scale;
      } else value = Number.isFinite(v) ? ((v - lo) / range) * 255 : 0;
      pixels[p * channels + ch] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return pixels;
}

/** PNG of a float32 LE tensor; `scale` enlarges small inputs (28×28) with nearest-neighbour. */
export async function tensorPng(
  tensorBytes: Uint8Array,
  shape: readonly number[],
  options: { spec?: PreprocessingSpec; scale?: number } = {},
): Promise<Uint8Array> {
  const geometry = imageGeometry(shape, options.spec);
  if (!geometry) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `tensor of shape [${shape.join(', ')}] is not an image (needs 1 or 3 channels: [1,]C,H,W, H,W,C or H,W)`,
    );
  }
  const tensor = new Float32Array(tensorBytes.byteLength / 4);
  const view = new DataView(tensorBytes.buffer, tensorBytes.byteOffset, tensorBytes.byteLength);
  for (let i = 0; i < tensor.length; i++) tensor[i] = view.getFloat32(i * 4, true);
  const pixels = tensorPixels(tensor, geometry, options.spec);
  const { width, height, channels } = geometry;
  const scale = Math.max(
    1,
    Math.min(options.scale ?? 1, Math.floor(MAX_EDGE / Math.max(width, height)) || 1),
  );
  let image = sharp(pixels, { raw: { width, height, channels } });
  if (scale > 1) image = image.resize(width * scale, height * scale, { kernel: 'nearest' });
  if (channels === 1) image = image.toColourspace('b-w');
  return new Uint8Array(await image.png().toBuffer());
}
