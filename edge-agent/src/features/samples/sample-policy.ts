// Which inferences become retraining samples. Pure: the clock and the random source are injected, so
// the rules are tested exactly. An inference is a candidate when its top-1 confidence is below the
// profile's threshold (always kept: the model is unsure, the most useful case to label) or, failing
// that, at random with the profile's rate (the desired config's `samplingRate` overrides it). A token
// bucket then caps candidates at `maxPerHour`, with a burst of one minute's worth, so over any hour
// a device keeps at most `maxPerHour` plus that burst.
import type { DeviceProfile } from '@edgeloop/shared';

export type SampleReason = 'random' | 'low-confidence';

export type SamplingSettings = DeviceProfile['sampling'];

export type SampleDecision =
  | { keep: true; reason: SampleReason }
  | { keep: false; reason: SampleReason | null; rateLimited: boolean };

const HOUR_MS = 3_600_000;

/** A classic token bucket: `capacity` tokens, refilled continuously at `perHour` tokens an hour. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly capacity: number,
    readonly perHour: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(capacity >= 0 && perHour >= 0)) throw new RangeError('token bucket needs capacity and rate ≥ 0');
    this.#tokens = capacity;
    this.#at = now();
  }

  /** Takes one token when there is one. */
  take(): boolean {
    const now = this.now();
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.perHour) / HOUR_MS);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** One minute's worth of the hourly budget, at least one sample (none when the budget is 0). */
export function burstOf(maxPerHour: number): number {
  return maxPerHour === 0 ? 0 : Math.max(1, Math.ceil(maxPerHour / 60));
}

export class SamplePolicy {
  readonly #bucket: TokenBucket;
  readonly #random: () => number;
  #rate: number;

  constructor(
    private readonly settings: SamplingSettings,
    options: { rateOverride?: number | undefined; now?: () => number; random?: () => number } = {},
  ) {
    this.#bucket = new TokenBucket(burstOf(settings.maxPerHour), settings.maxPerHour, options.now);
    this.#random = options.random ?? Math.random;
    this.#rate = options.rateOverride ?? settings.rate;
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** The random-sampling rate in force. */
  get rate(): number {
    return this.#rate;
  }

  /** The desired config's `samplingRate`; `undefined` falls back to the profile's rate. */
  overrideRate(rate: number | undefined): void {
    this.#rate = rate ?? this.settings.rate;
  }

  decide(confidence: number): SampleDecision {
    if (!this.settings.enabled) return { keep: false, reason: null, rateLimited: false };
    const reason: SampleReason | null =
      confidence < this.settings.lowConfidenceThreshold
        ? 'low-confidence'
        : this.#rate > 0 && this.#random() < this.#rate
          ? 'random'
          : null;
    if (!reason) return { keep: false, reason: null, rateLimited: false };
    if (!this.#bucket.take()) return { keep: false, reason, rateLimited: true };
    return { keep: true, reason };
  }
}
