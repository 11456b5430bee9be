// Builds one telemetry window from individual inferences: inference and error counts, a latency
// summary (see latency-tally.ts), predicted-class counts, mean confidence and the drift sketch, then
// emits a `TelemetryWindow` checked against the wire schema. Pure and synchronous, so the edge agent
// (which takes durable sequence numbers from disk and adds its shadow-mode summary) and the web SDK
// (localStorage) build windows the same way and only differ in what they bring to `close`.
import { EdgeloopError } from '../errors.ts';
import type { ModelRef } from '../ids.ts';
import { type ShadowSummary, type TelemetryWindow, telemetryWindowSchema } from '../messages/telemetry.ts';
import type { FeatureSample } from '../sketches/features.ts';
import { type SketchSpec, sketchSpecFingerprint } from '../sketches/sketch-spec.ts';
import { WindowSketch } from '../sketches/window-sketch.ts';
import { DEFAULT_LATENCY_SAMPLE_CAP, LatencyTally } from './latency-tally.ts';

export { percentile } from './latency-tally.ts';

export interface TelemetryWindowBuilderOptions {
  deviceId: string;
  latencySampleCap?: number;
  now?: () => number;
  /** Source of randomness for the reservoir (tests pass a seeded one). */
  random?: () => number;
}

/** One successful inference as a window counts it. */
export interface InferenceObservation {
  latencyMs: number;
  classIndex: number;
  confidence: number;
  /** The model that served it (sketches are only sent for the model a window reports). */
  model?: ModelRef;
  /** Drift features binned against the model's sketch spec. */
  sketch?: { spec: SketchSpec; sample: FeatureSample };
}

/** What `close` needs besides the recorded inferences. */
export interface WindowCloseContext {
  /** The window's sequence number: never reused for a device (the cloud deduplicates on it). */
  seq: number;
  model: ModelRef | null;
  /** Windows the sender had to drop since the last one it sent. */
  droppedWindows?: number;
  /** Pads class counts to the model's number of classes. */
  classCount?: number;
  /** What a shadow model did in this window (the edge agent in shadow mode). */
  shadow?: ShadowSummary;
}

/**
 * Accumulates the current window; `close` returns it and starts the next one where it ended.
 *
 * @example
 * const builder = new TelemetryWindowBuilder({ deviceId: 'web-3f9a2c1d' });
 * builder.recordInference({ latencyMs: 1.4, classIndex: 7, confidence: 0.98 });
 * const window = builder.close({ seq: 0, model, classCount: 10 });
 */
export class TelemetryWindowBuilder {
  readonly #cap: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #windowStart: number;
  #inferences = 0;
  #errors = 0;
  #latency: LatencyTally;
  #classCounts: number[] = [];
  #confidenceSum = 0;
  #sketch: { window: WindowSketch; sha256: string | undefined } | null = null;

  constructor(private readonly options: TelemetryWindowBuilderOptions) {
    this.#cap = options.latencySampleCap ?? DEFAULT_LATENCY_SAMPLE_CAP;
    if (!Number.isInteger(this.#cap) || this.#cap < 1) {
      throw new EdgeloopError('VALIDATION_FAILED', 'latencySampleCap must be a positive integer');
    }
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#windowStart = this.#now();
    this.#latency = new LatencyTally(this.#cap, this.#random);
  }

  /** Inferences (successful and failed) recorded in the current window. */
  get inferences(): number {
    return this.#inferences;
  }

  get windowStart(): number {
    return this.#windowStart;
  }

  recordInference(record: InferenceObservation): void {
    this.#inferences++;
    this.#latency.record(record.latencyMs);
    if (Number.isInteger(record.classIndex) && record.classIndex >= 0 && record.classIndex < 1000) {
      while (this.#classCounts.length <= record.classIndex) this.#classCounts.push(0);
      this.#classCounts[record.classIndex] = (this.#classCounts[record.classIndex] ?? 0) + 1;
    }
    this.#confidenceSum += Math.min(1, Math.max(0, record.confidence));
    if (record.sketch) this.#recordSketch(record.sketch, record.model?.sha256);
  }

  /** Drift features go into one sketch per model: a swap mid-window starts over with the new spec. */
  #recordSketch(sketch: NonNullable<InferenceObservation['sketch']>, sha256: string | undefined): void {
    const current = this.#sketch;
    if (
      current === null ||
      current.sha256 !== sha256 ||
      current.window.specFingerprint !== sketchSpecFingerprint(sketch.spec)
    ) {
      this.#sketch = { window: new WindowSketch({ spec: sketch.spec }), sha256 };
    }
    this.#sketch?.window.add(sketch.sample);
  }

  /** A failed inference (decode error, runtime error): counted as an inference and as an error. */
  recordError(): void {
    this.#inferences++;
    this.#errors++;
  }

  /** Ends the window: returns it, validated, and starts the next one where it ended. */
  close(context: WindowCloseContext): TelemetryWindow {
    const windowEnd = Math.max(this.#now(), this.#windowStart);
    const classCounts = [...this.#classCounts];
    while (classCounts.length < (context.classCount ?? 0)) classCounts.push(0);
    const successes = this.#latency.count;
    const sketch = this.#sketch;
    const candidate = {
      v: 1,
      deviceId: this.options.deviceId,
      seq: context.seq,
      windowStart: this.#windowStart,
      windowEnd,
      model: context.model,
      inferences: this.#inferences,
      errors: this.#errors,
      latencyMs: this.#latency.summary(),
      classCounts,
      meanConfidence: successes > 0 ? this.#confidenceSum / successes : null,
      droppedWindows: context.droppedWindows ?? 0,
      ...(sketch && sketch.window.count > 0 && sketch.sha256 === context.model?.sha256
        ? { sketches: sketch.window.toWire() }
        : {}),
      ...(context.shadow ? { shadow: context.shadow } : {}),
    };
    const parsed = telemetryWindowSchema.safeParse(candidate);
    if (!parsed.success) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `telemetry window failed its schema: ${parsed.error.message}`,
        { cause: parsed.error },
      );
    }
    this.restart(windowEnd);
    return parsed.data;
  }

  /** Drops what the current window recorded and starts a new one at `windowStart` (default now). */
  restart(windowStart = this.#now()): void {
    this.#windowStart = windowStart;
    this.#inferences = 0;
    this.#errors = 0;
    this.#latency = new LatencyTally(this.#cap, this.#random);
    this.#classCounts = [];
    this.#confidenceSum = 0;
    this.#sketch = null;
  }
}
