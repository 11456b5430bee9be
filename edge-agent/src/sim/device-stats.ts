// What the simulator counts per device, beside what the agent itself reports: frames offered, how
// many found no model to run, and — where the frame source knows the true class — accuracy.
import type { InferenceResult } from '../features/inference.ts';
import type { ImageInput } from '../preprocess.ts';
import { meanLevel } from './frame-source.ts';

export interface FrameCounts {
  /** Frames handed to the agent's inference. */
  frames: number;
  /** Frames that arrived before the device had a model (not sent to the agent). */
  idle: number;
  /** Frames the camera dropped because the previous one was still being classified. */
  dropped: number;
  inferences: number;
  errors: number;
  /** Inferences whose frame carried a true label, and how many of those were right. */
  labelled: number;
  correct: number;
}

export function emptyCounts(): FrameCounts {
  return { frames: 0, idle: 0, dropped: 0, inferences: 0, errors: 0, labelled: 0, correct: 0 };
}

export function addCounts(into: FrameCounts, from: FrameCounts): FrameCounts {
  for (const key of Object.keys(into) as (keyof FrameCounts)[]) into[key] += from[key];
  return into;
}

export function accuracyOf(counts: FrameCounts): number | null {
  return counts.labelled > 0 ? counts.correct / counts.labelled : null;
}

export class DeviceStats {
  /** Since the device's current condition began (start, or the last corruption change). */
  readonly counts = emptyCounts();
  /** Inferences since start, never reset: rates are computed from this. */
  totalInferences = 0;
  #levelSum = 0;
  #levelCount = 0;

  frameOffered(image: ImageInput): void {
    this.counts.frames++;
    const level = meanLevel(image);
    if (level !== null) {
      this.#levelSum += level;
      this.#levelCount++;
    }
  }

  inferred(result: InferenceResult, label: number | undefined): void {
    this.counts.inferences++;
    this.totalInferences++;
    if (label === undefined) return;
    this.counts.labelled++;
    if (result.classIndex === label) this.counts.correct++;
  }

  /** Mean pixel level (0..1) of the raw frames offered so far; null if none were raw. */
  get meanInputLevel(): number | null {
    return this.#levelCount > 0 ? this.#levelSum / this.#levelCount : null;
  }

  /** Starts a new measuring period (e.g. when a corruption is switched on). */
  reset(): void {
    for (const key of Object.keys(this.counts) as (keyof FrameCounts)[]) this.counts[key] = 0;
    this.#levelSum = 0;
    this.#levelCount = 0;
  }
}
