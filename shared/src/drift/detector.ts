// The drift state of one stream of windows (a model version × device group, or one device): a
// sliding set of recent windows evaluated against the reference, with hysteresis so that one noisy
// window neither raises an alert nor a flapping alert clears too soon.
import * as z from 'zod';
import type { WindowSketch } from '../sketches/window-sketch.ts';
import {
  DEFAULT_DRIFT_THRESHOLDS,
  type DriftEvaluation,
  type DriftLevel,
  type DriftThresholds,
  evaluateDrift,
  featureDriftSchema,
  type PreparedReference,
  prepareReference,
} from './evaluation.ts';
import type { ReferenceProfile } from './reference-profile.ts';

export interface HysteresisOptions {
  /** Raise an alert once `raiseAfter` of the last `outOf` evaluations were at alert level... */
  raiseAfter: number;
  outOf: number;
  /** ...and clear it only after this many consecutive evaluations below the warn level. */
  clearAfter: number;
}

export const DEFAULT_HYSTERESIS: HysteresisOptions = { raiseAfter: 2, outOf: 3, clearAfter: 3 };

export const driftStateSchema = z.enum(['insufficient-data', 'ok', 'warn', 'alert']);
export type DriftState = z.infer<typeof driftStateSchema>;

/** What the detector concluded after one evaluation; the cloud stores it and raises events on `changed`. */
export const driftReportSchema = z.object({
  v: z.literal(1),
  /** Fingerprint of the reference profile compared against. */
  profile: z.string(),
  /** The state after hysteresis: what dashboards show and alerts follow. */
  state: driftStateSchema,
  /** True when this evaluation moved the state (e.g. into `alert`). */
  changed: z.boolean(),
  /**
   * The level this evaluation counts for in the hysteresis. With several windows it is the lowest
   * level over the sliding set with any one window left out: one bad minute (lights off, a lens
   * cap) stays in the sliding set for several evaluations, and must not carry an alarm alone.
   */
  evaluation: driftStateSchema,
  /** True when the full set reached a higher level than `evaluation`, but only thanks to one window. */
  singleWindowOnly: z.boolean(),
  samples: z.number().int().nonnegative(),
  minSamples: z.number().int().nonnegative(),
  /** Windows merged into this evaluation. */
  windows: z.number().int().nonnegative(),
  /** Tests the significance level was divided among. */
  tests: z.number().int().nonnegative(),
  /** Features at warn or alert, most drifted first. */
  drifted: z.array(z.string()),
  features: z.array(featureDriftSchema),
  hysteresis: z.object({
    alertsInLast: z.number().int().nonnegative(),
    outOf: z.number().int().positive(),
    raiseAfter: z.number().int().positive(),
    calmStreak: z.number().int().nonnegative(),
    clearAfter: z.number().int().positive(),
  }),
});
export type DriftReport = z.infer<typeof driftReportSchema>;

export interface DriftDetectorOptions {
  thresholds?: Partial<DriftThresholds>;
  hysteresis?: Partial<HysteresisOptions>;
  /** How many recent windows `observe` merges into each evaluation (one window rarely has enough samples). */
  slidingWindows?: number;
}

/**
 * Watches one stream of telemetry windows for drift from a reference profile.
 *
 * @example
 * const detector = new DriftDetector(profile, { slidingWindows: 5 });
 * const report = detector.observe(WindowSketch.fromWire(telemetry.sketches, profile.spec));
 * if (report.changed && report.state === 'alert') raise('drift', report.drifted);
 */
export class DriftDetector {
  readonly thresholds: DriftThresholds;
  readonly hysteresis: HysteresisOptions;
  readonly slidingWindows: number;
  private readonly reference: PreparedReference;
  private readonly recent: WindowSketch[] = [];
  /** Levels of the last `outOf` evaluations that had enough data. */
  private readonly levels: DriftLevel[] = [];
  private current: DriftState = 'insufficient-data';
  private calm = 0;

  constructor(profile: ReferenceProfile, options: DriftDetectorOptions = {}) {
    this.thresholds = { ...DEFAULT_DRIFT_THRESHOLDS, ...options.thresholds };
    this.hysteresis = { ...DEFAULT_HYSTERESIS, ...options.hysteresis };
    this.slidingWindows = options.slidingWindows ?? 5;
    const { raiseAfter, outOf, clearAfter } = this.hysteresis;
    if (
      !(Number.isInteger(outOf) && outOf >= 1 && raiseAfter >= 1 && raiseAfter <= outOf && clearAfter >= 1)
    ) {
      throw new RangeError('hysteresis needs 1 ≤ raiseAfter ≤ outOf and clearAfter ≥ 1');
    }
    if (!(Number.isInteger(this.slidingWindows) && this.slidingWindows >= 1)) {
      throw new RangeError('slidingWindows must be a positive integer');
    }
    this.reference = prepareReference(profile);
  }

  get state(): DriftState {
    return this.current;
  }

  /** Adds one window to the sliding set and evaluates the merge of the last `slidingWindows`. */
  observe(window: WindowSketch): DriftReport {
    this.recent.push(window);
    if (this.recent.length > this.slidingWindows) this.recent.shift();
    const result = evaluateDrift(mergeAll(this.recent), this.reference, this.thresholds);
    let level = result.level;
    if (this.recent.length > 1 && (level === 'warn' || level === 'alert')) {
      for (let i = 0; i < this.recent.length && STATE_RANK[level] > 0; i++) {
        const without = mergeAll(this.recent.filter((_, j) => j !== i));
        level = lowerState(level, evaluateDrift(without, this.reference, this.thresholds).level);
      }
    }
    return this.report(result, level, this.recent.length);
  }

  /**
   * One hysteresis step on a window the caller already merged (e.g. a group's last 15 minutes).
   * Successive calls should cover disjoint windows: hysteresis counts them as independent evidence.
   */
  evaluate(window: WindowSketch, windows = 1): DriftReport {
    const result = evaluateDrift(window, this.reference, this.thresholds);
    return this.report(result, result.level, windows);
  }

  private report(result: DriftEvaluation, level: DriftState, windows: number): DriftReport {
    const before = this.current;
    if (level !== 'insufficient-data') this.step(level);
    const { raiseAfter, outOf, clearAfter } = this.hysteresis;
    return {
      v: 1,
      profile: this.reference.profile.fingerprint,
      state: this.current,
      changed: this.current !== before,
      evaluation: level,
      singleWindowOnly: level !== result.level,
      samples: result.samples,
      minSamples: this.thresholds.minSamples,
      windows,
      tests: result.tests,
      drifted: result.features.filter((f) => f.level !== 'ok').map((f) => f.feature),
      features: result.features,
      hysteresis: {
        alertsInLast: this.levels.filter((l) => l === 'alert').length,
        outOf,
        raiseAfter,
        calmStreak: this.calm,
        clearAfter,
      },
    };
  }

  private step(level: DriftLevel): void {
    this.levels.push(level);
    if (this.levels.length > this.hysteresis.outOf) this.levels.shift();
    if (this.current === 'alert') {
      this.calm = level === 'ok' ? this.calm + 1 : 0;
      if (this.calm >= this.hysteresis.clearAfter) {
        this.current = 'ok';
        this.calm = 0;
        this.levels.length = 0; // start afresh: old alert levels must not re-raise at once
      }
      return;
    }
    const alerts = this.levels.filter((l) => l === 'alert').length;
    this.current = alerts >= this.hysteresis.raiseAfter ? 'alert' : level === 'ok' ? 'ok' : 'warn';
  }
}

function mergeAll(windows: readonly WindowSketch[]): WindowSketch {
  return windows.slice(1).reduce((acc, w) => acc.merge(w), windows[0] as WindowSketch);
}

const STATE_RANK: Record<DriftState, number> = { 'insufficient-data': -1, ok: 0, warn: 1, alert: 2 };

/** The weaker of two levels; a leave-one-out set with too little data cannot confirm anything. */
function lowerState(a: DriftState, b: DriftState): DriftState {
  return STATE_RANK[a] <= STATE_RANK[b] ? a : b;
}
