// A model's retraining policy: when drift may retrain it, with which data, which gates a challenger
// must pass against the champion, and how a passing challenger is canaried. One zod schema parsed at
// every boundary (API, CLI, the stored jsonb), so the orchestrator works with complete values.
import * as z from 'zod';
import { trainerSpecSchema } from '../pipeline/index.ts';
import { rolloutPolicySchema, rolloutTargetSchema } from '../rollouts/index.ts';

const HOUR = 3600;
const DAY = 86_400;

export const retrainGatesSchema = z.strictObject({
  /**
   * Largest accuracy the challenger may lose on the champion's original test set, absolute:
   * 0.01 = one point. Adapting to the field must not forget the original task.
   */
  maxBaseAccuracyDrop: z.number().min(0).max(1).default(0.01),
  /**
   * Accuracy the challenger must gain on the recent labelled edge data held out from training,
   * absolute. Above zero so that a tie never replaces a champion.
   */
  minEdgeAccuracyGain: z.number().gt(0).max(1).default(0.01),
});
export type RetrainGates = z.output<typeof retrainGatesSchema>;

export const retrainPolicySchema = z.strictObject({
  /** Off: drift never starts a run, and a manual request is refused. */
  enabled: z.boolean().default(true),
  /** The drift state that starts a run: `alert` (default), or already at `warn`. */
  triggerState: z.enum(['warn', 'alert']).default('alert'),
  /** Labelled recent samples needed before a run starts (train part + edge holdout). */
  minLabelledSamples: z.number().int().min(10).max(1_000_000).default(200),
  /** Least time between the end of one run and the start of the next, seconds. */
  cooldownSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * DAY)
    .default(HOUR),
  /** How far back a labelled sample counts as recent (by capture time), seconds. */
  recentWindowSeconds: z
    .number()
    .int()
    .min(60)
    .max(365 * DAY)
    .default(7 * DAY),
  /** Most recent samples read (newest first): bounds memory and training time. */
  maxSamples: z.number().int().min(10).max(200_000).default(5_000),
  /** Share of the recent labelled samples kept out of training as the edge test set. */
  edgeHoldoutFraction: z.number().min(0.05).max(0.9).default(0.3),
  /** Seed of the holdout draw, so a run can be reproduced from the same samples. */
  seed: z.number().int().min(0).default(42),
  gates: retrainGatesSchema.prefault({}),
  training: z
    .strictObject({
      /** Default: the built-in trainer. */
      trainer: trainerSpecSchema.optional(),
      /**
       * Overrides of the champion's own training parameters (`epochs`, `learningRate`, …); the
       * challenger otherwise trains exactly as the champion did (when both use the same trainer).
       */
      hyperparameters: z.record(z.string(), z.unknown()).default({}),
    })
    .prefault({}),
  /** Waves, soak and health gates of the canary; default what a rollout defaults to. */
  rollout: rolloutPolicySchema.prefault({}),
  /** Which devices the canary moves; default (null): every device that runs the model now. */
  target: rolloutTargetSchema.nullable().default(null),
});
export type RetrainPolicy = z.output<typeof retrainPolicySchema>;
export type RetrainPolicyInput = z.input<typeof retrainPolicySchema>;

export const DEFAULT_RETRAIN_POLICY: RetrainPolicy = retrainPolicySchema.parse({});

const DRIFT_ORDER = { 'insufficient-data': 0, ok: 0, warn: 1, alert: 2 } as const;

/** Whether a drift state reaches the policy's trigger state. */
export function reachesTrigger(state: keyof typeof DRIFT_ORDER, policy: RetrainPolicy): boolean {
  return DRIFT_ORDER[state] >= DRIFT_ORDER[policy.triggerState];
}
