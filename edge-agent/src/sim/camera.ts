// A synthetic camera: takes frames from a source at a given rate and hands each to a consumer. The
// schedule is jittered and starts at a random phase, so a thousand cameras at 1 fps spread their
// frames over the second instead of firing together. Like a real camera feeding a busy processor,
// it drops a frame rather than queue it when the previous one is still being handled.
import type { Frame, FrameSource } from './frame-source.ts';

export interface SyntheticCameraOptions {
  source: FrameSource;
  /** Frames per second (may be below 1: 0.1 is a frame every ten seconds). */
  fps: number;
  /** Each interval is 1/fps ± this fraction of it (0..1, default 0.2). */
  jitter?: number;
  /** Receives each frame; the camera waits for it before the next frame may be delivered. */
  deliver: (frame: Frame) => Promise<void>;
  /** Told of each frame dropped because the consumer was busy. */
  onDropped?: () => void;
  random?: () => number;
}

export interface CameraCounters {
  /** Frames handed to the consumer. */
  delivered: number;
  /** Frames skipped because the consumer was still busy with the previous one. */
  dropped: number;
  /** Deliveries that threw: the consumer is expected to handle its own errors, so this stays 0. */
  failed: number;
}

export class SyntheticCamera {
  readonly #periodMs: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #running = false;
  readonly counters: CameraCounters = { delivered: 0, dropped: 0, failed: 0 };

  constructor(private readonly options: SyntheticCameraOptions) {
    if (!(options.fps > 0 && options.fps <= 1000)) {
      throw new RangeError(`camera fps must be in (0, 1000], got ${options.fps}`);
    }
    const jitter = options.jitter ?? 0.2;
    if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`camera jitter must be in 0..1, got ${jitter}`);
    this.#periodMs = 1000 / options.fps;
    this.#jitter = jitter;
    this.#random = options.random ?? Math.random;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.#random() * this.#periodMs);
  }

  /** Stops the schedule and waits for the frame being handled, if any. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => this.#tick(), delayMs);
  }

  #tick(): void {
    if (!this.#running) return;
    if (this.#inFlight) {
      this.counters.dropped++;
      this.options.onDropped?.();
    } else {
      this.counters.delivered++;
      const frame = this.options.source.next();
      this.#inFlight = this.options
        .deliver(frame)
        .catch(() => {
          this.counters.failed++;
        })
        .finally(() => {
          this.#inFlight = null;
        });
    }
    const spread = this.#jitter * (2 * this.#random() - 1);
    this.#schedule(this.#periodMs * (1 + spread));
  }
}
