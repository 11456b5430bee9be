// Drift on demand: a frame source wrapper whose corruption (darker, blurred, noisy … images) can be
// switched on and off while the camera runs. The transforms themselves are supplied by the caller —
// the cloud's dataset corruptions in `edgeloop sim` — because the agent package never imports cloud
// code and must not keep a second copy of them.
import type { Frame, FrameSource } from './frame-source.ts';

export interface FrameCorruption {
  /** A kind the transform knows ("brightness", "blur", …). */
  kind: string;
  /** 0 = unchanged … 1 = the strongest version of the effect. */
  severity: number;
}

/** Applies one corruption to one frame; `random` is the device's own seeded randomness. */
export type FrameTransform = (frame: Frame, corruption: FrameCorruption, random: () => number) => Frame;

export class CorruptibleFrameSource implements FrameSource {
  #corruption: FrameCorruption | null = null;

  constructor(
    private readonly source: FrameSource,
    private readonly transform: FrameTransform,
    private readonly random: () => number = Math.random,
  ) {}

  get corruption(): FrameCorruption | null {
    return this.#corruption;
  }

  /** Takes effect from the next frame; null restores the clean images. */
  setCorruption(corruption: FrameCorruption | null): void {
    if (corruption && !(corruption.severity >= 0 && corruption.severity <= 1)) {
      throw new RangeError(`corruption severity must be in 0..1, got ${corruption.severity}`);
    }
    this.#corruption = corruption ? { ...corruption } : null;
  }

  next(): Frame {
    const frame = this.source.next();
    return this.#corruption ? this.transform(frame, this.#corruption, this.random) : frame;
  }
}

/** A small seeded generator (mulberry32), so a device's corrupted frames repeat from run to run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
