// The pure, platform-free half of browser preprocessing: RGBA pixels → the spec's channels at the
// spec's size → tensor. The browser half (preprocess.ts) only has to produce RGBA.
//
// Greyscale is the shared rgbToGrey (sharp's `toColourspace('b-w')`, which the cloud's training pipeline uses:
// libvips converts sRGB to linear light, takes Rec.709 luminance Y = 0.2126 R + 0.7152 G + 0.0722 B
// there and re-encodes Y with the sRGB curve. Measured with sharp 0.35: pure red → 127, green → 220,
// blue → 76 (plain Rec.601 luma would give 76/150/29). Ours is within one grey level of sharp for
// every colour and equal for ~82% of random colours (libvips' fixed-point path lands 1 higher on the
// rest); test/web-sdk/preprocess-golden.test.ts checks it against sharp.
import { type PreprocessingSpec, pixelsToTensor, rgbToGrey } from '@edgeloop/shared';
import { fitToSpec, type PixelImage } from './resample.ts';

/**
 * Drops alpha by compositing over black, as sharp's `flatten({ background: '#000' })` does (the
 * cloud trains on flattened images). Input is straight (not premultiplied) RGBA, as in ImageData.
 *
 * @example
 * rgbaOverBlack(Uint8ClampedArray.of(255, 255, 255, 128)); // Uint8Array [128, 128, 128]
 */
export function rgbaOverBlack(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let p = 0, o = 0; p < rgba.length; p += 4, o += 3) {
    const a = rgba[p + 3] ?? 255;
    for (let c = 0; c < 3; c++)
      out[o + c] = a === 255 ? (rgba[p + c] ?? 0) : Math.round(((rgba[p + c] ?? 0) * a) / 255);
  }
  return out;
}

/**
 * RGBA pixels of any size → the model input tensor the manifest's preprocessing spec describes:
 * flatten over black, fit (stretch / contain / cover), greyscale if the model wants one channel,
 * then scale, normalise and lay out with the shared `pixelsToTensor`.
 *
 * @example
 * const tensor = rgbaToTensor(imageData.data, imageData.width, imageData.height, manifest.preprocessing);
 */
export function rgbaToTensor(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  spec: PreprocessingSpec,
): Float32Array {
  if (width < 1 || height < 1 || rgba.length !== width * height * 4) {
    throw new RangeError(`expected ${width}x${height} RGBA pixels, got ${rgba.length} values`);
  }
  const rgb: PixelImage = { data: rgbaOverBlack(rgba), width, height, channels: 3 };
  const fitted = fitToSpec(rgb, spec);
  const pixels = spec.channels === 1 ? rgbToGrey(fitted.data) : fitted.data;
  return pixelsToTensor(pixels, spec);
}
