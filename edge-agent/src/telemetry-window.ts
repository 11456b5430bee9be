// The agent's telemetry window: the shared `TelemetryWindowBuilder` (counts, latency, classes,
// confidence, drift sketch) plus what only the agent has — a durable sequence number taken from
// disk at close, and in shadow mode the shadow model's agreement and latency.
import {
  DEFAULT_LATENCY_SAMPLE_CAP,
  type InferenceObservation,
  LatencyTally,
  type ModelRef,
  type ShadowSummary,
  type TelemetryWindow,
  TelemetryWindowBuilder,
} from '@edgeloop/shared';
import type { SequenceCounter } from './sequence.ts';

export { percentile } from '@edgeloop/shared';

export interface TelemetryWindowOptions {
  deviceId: string;
  sequence: SequenceCounter;
  /** Latency values kept for percentiles (default 10,000); past it a reservoir sample. */
  latencySampleCap?: number;
  now?: () => number;
  /** Source of randomness for the reservoirs (tests pass a seeded one). */
  random?: () => number;
}

export type InferenceRecord = InferenceObservation;

/** What the shadow model did in one window (shadow mode); see `ShadowSummary`. */
export type ShadowRecord = { model: ModelRef } & (
  | { ok: true; agreed: boolean; latencyMs: number }
  | { ok: false }
);

interface ShadowTally {
  model: ModelRef;
  frames: number;
  agreements: number;
  errors: number;
  latency: LatencyTally;
}

export class TelemetryWindowAccumulator {
  readonly #builder: TelemetryWindowBuilder;
  readonly #cap: number;
  readonly #random: () => number;
  #shadow: ShadowTally | null = null;

  constructor(private readonly options: TelemetryWindowOptions) {
    this.#builder = new TelemetryWindowBuilder(options);
    this.#cap = options.latencySampleCap ?? DEFAULT_LATENCY_SAMPLE_CAP;
    this.#random = options.random ?? Math.random;
  }

  get inferences(): number {
    return this.#builder.inferences;
  }

  recordInference(record: InferenceRecord): void {
    this.#builder.recordInference(record);
  }

  /** A failed inference (decode error, runtime error): counted as an inference and as an error. */
  recordError(): void {
    this.#builder.recordError();
  }

  /** One shadow-model run; a different shadow model mid-window starts the tally over. */
  recordShadow(record: ShadowRecord): void {
    if (this.#shadow?.model.sha256 !== record.model.sha256) {
      this.#shadow = {
        model: record.model,
        frames: 0,
        agreements: 0,
        errors: 0,
        latency: new LatencyTally(this.#cap, this.#random),
      };
    }
    const shadow = this.#shadow;
    shadow.frames++;
    if (!record.ok) shadow.errors++;
    else {
      if (record.agreed) shadow.agreements++;
      shadow.latency.record(record.latencyMs);
    }
  }

  #shadowSummary(): ShadowSummary | undefined {
    const shadow = this.#shadow;
    if (!shadow || shadow.frames === 0) return undefined;
    const { model, frames, agreements, errors, latency } = shadow;
    return { model, frames, agreements, errors, latencyMs: latency.summary() };
  }

  /**
   * Ends the window: takes a durable sequence number, returns the validated window and starts the
   * next one. `classCount` pads class counts to the model's number of classes.
   */
  async close(context: {
    model: ModelRef | null;
    /** Usually 0: the TelemetryQueue stamps its own drop count into each window it stores. */
    droppedWindows?: number;
    classCount?: number;
  }): Promise<TelemetryWindow> {
    const seq = await this.options.sequence.take();
    const shadow = this.#shadowSummary();
    const window = this.#builder.close({ ...context, seq, ...(shadow ? { shadow } : {}) });
    this.#shadow = null;
    return window;
  }
}
