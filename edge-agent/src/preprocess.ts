// Images → model input tensors, driven by the manifest's PreprocessingSpec. sharp does the decoding,
// EXIF orientation and resizing; the last step (pixels → normalised floats) is `pixelsToTensor` from
// @edgeloop/shared, the same code the web SDK runs, so equal pixels give equal tensors everywhere.
//
// Inputs come from cameras and callers we do not control: size limits are checked before decoding
// (bytes, then the pixel count from the header) so a "decompression bomb" costs nothing. The pixel
// count is checked by libvips itself (`limitInputPixels`) when it opens the header, inside the one
// pipeline each image goes through: a separate `metadata()` call first would cost every request a
// second trip through the thread pool (about a tenth of the agent's time per frame, bench/README.md).
import { EdgeloopError, type PreprocessingSpec, pixelsToTensor, rgbToGrey } from '@edgeloop/shared';
import sharp, { type Metadata, type OutputInfo, type ResizeOptions, type Sharp } from 'sharp';

export interface ImageLimits {
  /** Largest encoded (or raw) input accepted, in bytes. */
  maxInputBytes: number;
  /** Largest width × height accepted (checked from the header, before decoding). */
  maxInputPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxInputBytes: 16 * 1024 * 1024,
  maxInputPixels: 24_000_000, // a 6000×4000 photo
};

/** Already-decoded interleaved 8-bit pixels (a camera frame). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** Encoded JPEG / PNG / WebP / GIF / TIFF bytes, or raw pixels. */
export type ImageInput = Uint8Array | RawImage;

const FIT = { stretch: 'fill', contain: 'contain', cover: 'cover' } as const;

/** libvips repeats warnings over several lines; the first says what went wrong. */
function firstLine(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n')[0] ?? '';
}

function invalid(message: string, cause?: unknown): EdgeloopError {
  return new EdgeloopError('VALIDATION_FAILED', message, cause === undefined ? {} : { cause });
}

export class ImagePreprocessor {
  readonly limits: ImageLimits;
  /**
   * sharp's resize options, built once. The pad colour only matters to `contain` (the only fit that
   * pads), and sharp parses a colour on every call: the other fits leave it out (bench/README.md).
   */
  readonly #resize: ResizeOptions;

  constructor(
    readonly spec: PreprocessingSpec,
    limits: Partial<ImageLimits> = {},
  ) {
    this.limits = { ...DEFAULT_IMAGE_LIMITS, ...limits };
    const { resize, padValue } = spec;
    this.#resize = {
      fit: FIT[resize],
      position: 'centre',
      ...(resize === 'contain' ? { background: { r: padValue, g: padValue, b: padValue, alpha: 1 } } : {}),
    };
  }

  /** The model input for one image, laid out and normalised as the spec says. */
  async tensor(input: ImageInput): Promise<Float32Array> {
    return pixelsToTensor(await this.pixels(input), this.spec);
  }

  /** Interleaved 8-bit pixels, height × width × spec.channels, before normalisation. */
  async pixels(input: ImageInput): Promise<Uint8Array> {
    const image = this.#open(input);
    const { width, height, channels } = this.spec;
    let output: { data: Buffer; info: OutputInfo };
    try {
      // Same order as the cloud's training pipeline and the web SDK: orient, flatten transparency
      // over black, resize, then grey (shared rgbToGrey).
      output = await image
        .autoOrient()
        .flatten({ background: '#000000' })
        .resize(width, height, this.#resize)
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw await this.#decodeError(input, err);
    }
    const { info, data } = output;
    if (info.width !== width || info.height !== height || info.channels !== 3) {
      throw new EdgeloopError(
        'INTERNAL',
        `preprocessing produced ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`,
      );
    }
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return channels === 1 ? rgbToGrey(rgb) : rgb;
  }

  /** Checks the byte limits and opens the image lazily; nothing is decoded yet. */
  #open(input: ImageInput): Sharp {
    const options = { limitInputPixels: this.limits.maxInputPixels, failOn: 'error' as const };
    if (!(input instanceof Uint8Array)) {
      const { data, width, height, channels } = input;
      if (data.length > this.limits.maxInputBytes) {
        throw invalid(`raw image of ${data.length} bytes exceeds the limit of ${this.limits.maxInputBytes}`);
      }
      this.#checkPixels(width, height);
      if (data.length !== width * height * channels) {
        throw invalid(`raw image is ${data.length} bytes, expected ${width}x${height}x${channels}`);
      }
      return sharp(data, { ...options, raw: { width, height, channels } });
    }
    if (input.length === 0) throw invalid('image is empty');
    if (input.length > this.limits.maxInputBytes) {
      throw invalid(`image of ${input.length} bytes exceeds the limit of ${this.limits.maxInputBytes}`);
    }
    return sharp(input, options);
  }

  /**
   * Why an encoded image failed, worded for the caller. Only failures pay for reading the header
   * again: it names the declared size when that is what libvips refused.
   */
  async #decodeError(input: ImageInput, err: unknown): Promise<EdgeloopError> {
    if (!(input instanceof Uint8Array)) return invalid(`cannot decode image: ${firstLine(err)}`, err);
    let metadata: Metadata;
    try {
      // Header only; limitInputPixels is not enforced by metadata(), so the check below does it.
      metadata = await sharp(input, { limitInputPixels: false, failOn: 'error' }).metadata();
    } catch (headerErr) {
      return invalid(
        `cannot decode image (JPEG, PNG, WebP, GIF, TIFF expected): ${firstLine(headerErr)}`,
        headerErr,
      );
    }
    if (!metadata.width || !metadata.height) {
      return invalid(`image header of ${metadata.format} declares no size`, err);
    }
    try {
      this.#checkPixels(metadata.width, metadata.height);
    } catch (limitErr) {
      return limitErr as EdgeloopError;
    }
    return invalid(`cannot decode image: ${firstLine(err)}`, err);
  }

  #checkPixels(width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw invalid(`image size ${width}x${height} is not valid`);
    }
    if (width * height > this.limits.maxInputPixels) {
      throw invalid(
        `image of ${width}x${height} (${width * height} pixels) exceeds the limit of ${this.limits.maxInputPixels} pixels`,
      );
    }
  }
}
