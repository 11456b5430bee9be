// What a simulated camera sees. A frame source is any endless supply of images (encoded bytes, or raw
// pixels that skip the decode), each optionally with its true class: the simulator measures accuracy
// against it and the demo hands it on as the ground truth of retraining samples.
import type { ImageInput, RawImage } from '../preprocess.ts';

export interface Frame {
  image: ImageInput;
  /** Index of the true class in the model's class list, when the source knows it. */
  label?: number;
}

export interface FrameSource {
  /** The next frame. Sources never run dry: a finite set of images is cycled. */
  next(): Frame;
}

/**
 * Cycles through a fixed list of frames starting at `offset`, so devices sharing one list do not all
 * show the same image at the same moment.
 *
 * @example
 * const source = new FrameCycle([{ image: pngBytes, label: 3 }], 0);
 */
export class FrameCycle implements FrameSource {
  #position: number;

  constructor(
    private readonly frames: readonly Frame[],
    offset = 0,
  ) {
    if (frames.length === 0) throw new RangeError('a frame cycle needs at least one frame');
    this.#position = Math.abs(Math.trunc(offset)) % frames.length;
  }

  next(): Frame {
    const frame = this.frames[this.#position] as Frame;
    this.#position = (this.#position + 1) % this.frames.length;
    return frame;
  }
}

/** Mean pixel level in 0..1 of a raw frame; null for encoded bytes (measuring would mean decoding). */
export function meanLevel(image: ImageInput): number | null {
  if (image instanceof Uint8Array) return null;
  const { data } = image as RawImage;
  if (data.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i] as number;
  return sum / data.length / 255;
}
