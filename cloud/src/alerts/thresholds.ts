// When an alert opens: one zod schema with the defaults an on-call engineer starts from, parsed once
// when the evaluator is built, so a bad threshold fails at start-up with the field named.
import { z } from 'zod';

const share = z.number().min(0).max(1);
const seconds = z
  .number()
  .int()
  .min(0)
  .max(30 * 86_400);
const count = z.number().int().min(1).max(10_000_000);

export const alertThresholdsSchema = z.strictObject({
  /**
   * Devices offline, per device class and per group. A device counts once it has been offline for
   * `offlineForSeconds` (its last message is older); devices never seen (`unknown`) do not count.
   * Opens when the offline share of the slice's online + offline devices exceeds `offlineShare`
   * with at least `offlineMinDevices` offline, or when `offlineCount` devices are offline whatever
   * the share. Critical from `offlineCriticalShare`.
   */
  devicesOffline: z
    .strictObject({
      offlineForSeconds: seconds.default(300),
      offlineShare: share.default(0.2),
      offlineMinDevices: count.default(2),
      offlineCount: count.default(10),
      offlineCriticalShare: share.default(0.5),
    })
    .prefault({}),
  /**
   * Error-rate spike per model version × device class: the error rate of the last `recentSeconds`
   * of telemetry against the `baselineSeconds` before it. Opens when the recent window holds at
   * least `minInferences` inferences, its rate is at least `minRate`, and at least `ratio` times
   * the baseline's (a baseline with fewer than `minInferences` counts as 0: a new version has none).
   * Critical from `criticalRate`.
   */
  errorRate: z
    .strictObject({
      recentSeconds: seconds.min(60).default(300),
      baselineSeconds: seconds.min(60).default(3600),
      minInferences: count.default(100),
      minRate: share.default(0.05),
      ratio: z.number().min(1).max(1000).default(3),
      criticalRate: share.default(0.25),
    })
    .prefault({}),
  /**
   * Stuck rollouts. A running rollout's current wave is stuck when no device of it changed state
   * for longer than the wave's per-device timeout (plus its soak while soaking) plus
   * `marginSeconds`: the scheduler times devices out by then, so silence means it is not running.
   * A paused rollout opens a (warning) alert after `pausedForSeconds`.
   */
  rolloutStuck: z
    .strictObject({
      marginSeconds: seconds.default(300),
      pausedForSeconds: seconds.default(3600),
    })
    .prefault({}),
  /**
   * Drift: the latest drift report of each model version × scope in state `alert` opens one;
   * a later report in another state resolves it, and so does a report older than `maxAgeSeconds`
   * (a version no device runs any more stops reporting).
   */
  drift: z
    .strictObject({
      maxAgeSeconds: seconds.min(60).default(86_400),
    })
    .prefault({}),
});

export type AlertThresholds = z.output<typeof alertThresholdsSchema>;
export type AlertThresholdsInput = z.input<typeof alertThresholdsSchema>;

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = alertThresholdsSchema.parse({});
