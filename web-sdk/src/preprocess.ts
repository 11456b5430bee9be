// Browser images → RGBA with a 2D canvas (decoding, colour management and EXIF orientation are the
// browser's), then the pure pipeline in pixels.ts. The canvas only decodes and flattens; it never
// resizes, because browser smoothing differs from sharp's Lanczos (see resample.ts).
import type { PreprocessingSpec } from '@edgeloop/shared';
import { EdgeloopWebError } from './errors.ts';
import { rgbaToTensor } from './pixels.ts';

/** Anything `classify` accepts. */
export type ImageSource =
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | OffscreenCanvas
  | ImageBitmap
  | ImageData
  | Blob;

/** Straight RGBA pixels and their size. */
export interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

type Drawable = Exclude<ImageSource, ImageData | Blob>;

function sizeOf(source: Drawable): { width: number; height: number } {
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    return { width: source.naturalWidth, height: source.naturalHeight };
  }
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    return { width: source.videoWidth, height: source.videoHeight };
  }
  return { width: source.width, height: source.height };
}

function context2d(
  width: number,
  height: number,
): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D {
  const settings: CanvasRenderingContext2DSettings = { willReadFrequently: true, colorSpace: 'srgb' };
  if (typeof OffscreenCanvas !== 'undefined') {
    const ctx = new OffscreenCanvas(width, height).getContext(
      '2d',
      settings,
    ) as OffscreenCanvasRenderingContext2D | null;
    if (ctx) return ctx;
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', settings);
  if (!ctx) throw new EdgeloopWebError('INTERNAL', 'no 2D canvas context available');
  return ctx;
}

function drawToRgba(source: Drawable): RgbaImage {
  const { width, height } = sizeOf(source);
  if (!width || !height)
    throw new EdgeloopWebError('VALIDATION_FAILED', 'image has no pixels (not loaded yet?)');
  const ctx = context2d(width, height);
  // Transparent pixels composite over black, as the training pipeline's sharp `flatten` does.
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(source, 0, 0);
  try {
    const { data } = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' });
    return { data, width, height };
  } catch (err) {
    throw new EdgeloopWebError(
      'VALIDATION_FAILED',
      'cannot read the image pixels (cross-origin image without CORS?)',
      {
        cause: err,
      },
    );
  }
}

/**
 * Decodes any supported image source to straight sRGB RGBA.
 *
 * @example
 * const { data, width, height } = await readRgba(await (await fetch('/cat.png')).blob());
 */
export async function readRgba(source: ImageSource): Promise<RgbaImage> {
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) {
    return { data: source.data, width: source.width, height: source.height };
  }
  if (source instanceof Blob) {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(source);
    } catch (err) {
      throw new EdgeloopWebError(
        'VALIDATION_FAILED',
        `cannot decode image blob (${source.type || 'unknown type'})`,
        {
          cause: err,
        },
      );
    }
    try {
      return drawToRgba(bitmap);
    } finally {
      bitmap.close();
    }
  }
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement && !source.complete) {
    await source.decode();
  }
  return drawToRgba(source as Drawable);
}

/**
 * An image → the model input tensor its manifest's preprocessing spec describes (batch of one).
 * The same image gives the same tensor as the edge agent's sharp pipeline, within the tolerance
 * stated in resample.ts.
 *
 * @example
 * const tensor = await toInputTensor(document.querySelector('img')!, model.manifest.preprocessing);
 */
export async function toInputTensor(source: ImageSource, spec: PreprocessingSpec): Promise<Float32Array> {
  const { data, width, height } = await readRgba(source);
  return rgbaToTensor(data, width, height, spec);
}
