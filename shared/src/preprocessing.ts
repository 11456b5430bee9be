import * as z from 'zod';

/**
 * How raw images become the model's input tensor. The edge agent (sharp) and the web SDK (canvas)
 * both implement exactly this spec, so the same image yields the same tensor on both.
 */
export const preprocessingSpecSchema = z
  .object({
    /** Tensor layout of the model input. */
    layout: z.enum(['NCHW', 'NHWC']),
    /** 1 = greyscale (luma), 3 = RGB. */
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().min(1).max(4096),
    width: z.number().int().min(1).max(4096),
    /**
     * How the image is fitted to height×width: `stretch` ignores aspect ratio, `contain` letterboxes
     * with `padValue`, `cover` crops the centre.
     */
    resize: z.enum(['stretch', 'contain', 'cover']).default('stretch'),
    /** Pixel value used for letterbox padding, in 0..255 before scaling. */
    padValue: z.number().min(0).max(255).default(0),
    /** Multiply 0..255 pixel values by this first (1/255 maps to 0..1). */
    scale: z
      .number()
      .positive()
      .default(1 / 255),
    /** Then subtract mean and divide by std, per channel (length 1 or `channels`). */
    mean: z.array(z.number()).min(1).max(3).default([0]),
    std: z.array(z.number().positive()).min(1).max(3).default([1]),
    /** Invert intensities after scaling (1 - x), e.g. MNIST-style white-on-black digits from photos. */
    invert: z.boolean().default(false),
  })
  .refine((s) => s.mean.length === 1 || s.mean.length === s.channels, {
    message: 'mean must have 1 or `channels` entries',
    path: ['mean'],
  })
  .refine((s) => s.std.length === 1 || s.std.length === s.channels, {
    message: 'std must have 1 or `channels` entries',
    path: ['std'],
  });
export type PreprocessingSpec = z.output<typeof preprocessingSpecSchema>;
export type PreprocessingSpecInput = z.input<typeof preprocessingSpecSchema>;

/** The input tensor shape a spec produces for a batch of `batch` images. */
export function inputShape(spec: PreprocessingSpec, batch = 1): [number, number, number, number] {
  return spec.layout === 'NCHW'
    ? [batch, spec.channels, spec.height, spec.width]
    : [batch, spec.height, spec.width, spec.channels];
}

/**
 * The pure part of preprocessing, shared by every platform: interleaved 8-bit pixels (already
 * resized to height×width with `channels` channels) → normalised float tensor in the spec's layout.
 */
export function pixelsToTensor(
  pixels: Uint8Array | Uint8ClampedArray,
  spec: PreprocessingSpec,
): Float32Array {
  const { channels: c, height: h, width: w } = spec;
  if (pixels.length !== h * w * c) {
    throw new RangeError(`expected ${h * w * c} pixel values (${h}x${w}x${c}), got ${pixels.length}`);
  }
  const out = new Float32Array(h * w * c);
  for (let ch = 0; ch < c; ch++) {
    const mean = spec.mean[spec.mean.length === 1 ? 0 : ch] ?? 0;
    const std = spec.std[spec.std.length === 1 ? 0 : ch] ?? 1;
    for (let p = 0; p < h * w; p++) {
      let x = (pixels[p * c + ch] ?? 0) * spec.scale;
      if (spec.invert) x = 1 - x;
      const value = (x - mean) / std;
      out[spec.layout === 'NCHW' ? ch * h * w + p : p * c + ch] = value;
    }
  }
  return out;
}

const SRGB_TO_LINEAR = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const v = i / 255;
  SRGB_TO_LINEAR[i] = v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

function linearToSrgbByte(y: number): number {
  const v = y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055;
  return Math.min(255, Math.max(0, Math.round(v * 255)));
}

/**
 * Interleaved 8-bit sRGB → 8-bit grey, as sharp/libvips computes greyscale (`toColourspace('b-w')`,
 * which the cloud's training pipeline uses): sRGB → linear light, Rec.709 luminance
 * Y = 0.2126 R + 0.7152 G + 0.0722 B, re-encoded with the sRGB curve. Pure red → 127, green → 220,
 * blue → 76. Every platform converts colour to grey with this one function (the agent after
 * sharp's resize, the web SDK after its own), so a grey model sees the same pixels everywhere;
 * it is within one grey level of libvips' fixed-point path for every colour.
 *
 * @example
 * rgbToGrey(Uint8Array.of(255, 0, 0)); // Uint8Array [127]
 */
export function rgbToGrey(rgb: Uint8Array | Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array(Math.floor(rgb.length / 3));
  for (let p = 0; p < out.length; p++) {
    const y =
      0.2126 * (SRGB_TO_LINEAR[rgb[p * 3] ?? 0] ?? 0) +
      0.7152 * (SRGB_TO_LINEAR[rgb[p * 3 + 1] ?? 0] ?? 0) +
      0.0722 * (SRGB_TO_LINEAR[rgb[p * 3 + 2] ?? 0] ?? 0);
    out[p] = linearToSrgbByte(y);
  }
  return out;
}
