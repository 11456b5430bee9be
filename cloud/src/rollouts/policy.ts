// What an operator asks for when creating a rollout: the target (which devices), the waves and the
// policy every wave is judged by. One zod schema per shape, parsed at the boundary (API, CLI, the
// stored jsonb), so the planner and the state machine work with complete, defaulted values.
import { deviceIdSchema } from '@edgeloop/shared';
import { z } from 'zod';
import type { ShadowPhase } from './shadow.ts';

const nameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must match [a-z0-9][a-z0-9_-]{0,63}');
const tagSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.:=-]{0,63}$/, 'tag must match [a-z0-9][a-z0-9_.:=-]{0,63}');

/** Which devices a rollout moves. `tags` matches devices carrying every listed tag. */
export const rolloutTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('group'), group: nameSchema }),
  z.strictObject({ kind: z.literal('tags'), tags: z.array(tagSchema).min(1).max(16) }),
  z.strictObject({ kind: z.literal('class'), deviceClass: z.string().min(1).max(64) }),
  z.strictObject({
    kind: z.literal('devices'),
    deviceIds: z
      .array(deviceIdSchema)
      .min(1)
      .max(10_000)
      .refine((ids) => new Set(ids).size === ids.length, 'device ids must be unique'),
  }),
]);
export type RolloutTarget = z.infer<typeof rolloutTargetSchema>;

const percentSchema = z.number().min(0).max(100);
const soakSchema = z
  .number()
  .int()
  .min(0)
  .max(7 * 86_400);
const timeoutSchema = z
  .number()
  .int()
  .min(1)
  .max(30 * 86_400);

/**
 * One wave. `percent` and `count` are cumulative: `{ percent: 25 }` brings the rollout to a quarter
 * of the target, `{ count: 10 }` to ten devices. The last wave always takes every remaining device.
 * Thresholds, soak and timeout override the rollout's for this wave only.
 */
export const waveSpecSchema = z
  .strictObject({
    percent: z.number().gt(0).max(100).optional(),
    count: z.number().int().positive().max(1_000_000).optional(),
    successThreshold: percentSchema.optional(),
    failureThreshold: percentSchema.optional(),
    minSoakSeconds: soakSchema.optional(),
    deviceTimeoutSeconds: timeoutSchema.optional(),
  })
  .refine((w) => (w.percent === undefined) !== (w.count === undefined), 'give exactly one of percent, count');
export type WaveSpec = z.infer<typeof waveSpecSchema>;

/**
 * Health gates: the wave's devices on the new model against the rollout's devices still on the old
 * one, over the same period. Each gate is optional; a gate with too little data on either side is
 * inconclusive and does not block (it is recorded).
 */
export const gatesSchema = z.strictObject({
  /** Largest tolerated rise of the error fraction (errors / inferences), absolute: 0.02 = 2 points. */
  errorRate: z.strictObject({ maxIncrease: z.number().min(0).max(1) }).optional(),
  /** Largest tolerated p95 latency, as a multiple of the old model's. */
  p95Latency: z.strictObject({ maxRatio: z.number().min(1).max(1000) }).optional(),
  /** Largest tolerated drop of mean top-1 confidence, absolute. */
  confidence: z.strictObject({ maxDrop: z.number().min(0).max(1) }).optional(),
  /** Largest tolerated Jensen-Shannon divergence (base 2, 0..1) of the predicted-class distribution. */
  predictionShift: z.strictObject({ maxDivergence: z.number().min(0).max(1) }).optional(),
  /**
   * Drift not worse: the wave's devices' drift score (largest PSI over the reference features of
   * their merged window sketches, against the new version's reference profile) may exceed the
   * control group's score (devices still on the old version, against the old version's profile)
   * by at most `maxIncrease`. Each side compares field data with its own model's validation data,
   * so a new model whose reference does not match what the cameras see scores worse. Skipped, with
   * the reason recorded, when either version has no profile or either side has fewer than
   * `minSamples` sketched inferences.
   */
  drift: z
    .strictObject({
      maxIncrease: z.number().min(0).max(100),
      minSamples: z.number().int().min(1).max(10_000_000).default(200),
    })
    .optional(),
  /** Inferences needed on each side before a gate is judged. */
  minInferences: z.number().int().min(1).max(10_000_000).default(50),
});
export type Gates = z.output<typeof gatesSchema>;

export const DEFAULT_WAVES: WaveSpec[] = [{ percent: 5 }, { percent: 25 }, { percent: 100 }];
export const DEFAULT_GATES: Gates = {
  errorRate: { maxIncrease: 0.05 },
  p95Latency: { maxRatio: 2 },
  confidence: { maxDrop: 0.1 },
  minInferences: 50,
};

/**
 * Shadow mode: before its first wave the rollout runs a shadow phase. The first wave's devices keep
 * their current model and receive the new one as `desired.shadow` (shared `shadowSchema`); they run
 * it beside the current one on `rate` of their frames without acting on its output and report, per
 * telemetry window, how often the two agreed on the top class and the shadow's latency. The phase
 * passes once it has soaked `soakSeconds` and the wave's devices reported at least `minFrames`
 * shadow frames with an agreement (agreements / frames; shadow errors count as disagreements) of
 * at least `minAgreement`; the shadow latency p95 is reported with it. Agreement below
 * `minAgreement` trips `onFailure`: `pause` leaves the shadow running for the operator,
 * `rollback` ends the rollout and undoes the shadow (each device gets its desired state again
 * without `shadow`). A phase that gets too few frames within `soakSeconds` plus the device timeout
 * pauses as stalled. Then the waves proceed as usual, the first wave's desired states replacing
 * the shadow with the new model.
 *
 * Only the first wave shadows, not the whole target: it is the set the operator already chose to
 * expose first, the shadow costs each device a download and extra inference, and agreement is
 * judged per frame on the device, so it needs no control group.
 */
export const shadowPolicySchema = z.strictObject({
  /** Share of frames the shadow model also runs on, (0, 1]. */
  rate: z.number().gt(0).max(1).default(0.1),
  /** Least agreement (0..1) for the phase to pass. */
  minAgreement: z.number().min(0).max(1).default(0.9),
  /** Shadow frames the wave's devices must report before the phase is judged. */
  minFrames: z.number().int().min(1).max(100_000_000).default(200),
  /** Least time the phase runs before it is judged. */
  soakSeconds: soakSchema.default(300),
});
export type ShadowPolicy = z.output<typeof shadowPolicySchema>;

export const rolloutPolicySchema = z.strictObject({
  waves: z.array(waveSpecSchema).min(1).max(20).default(DEFAULT_WAVES),
  /** % of a wave's devices that must be active before it soaks. */
  successThreshold: percentSchema.default(95),
  /** % of a wave's devices failed, rolled back or rejected that trips the rollout. */
  failureThreshold: percentSchema.default(10),
  minSoakSeconds: soakSchema.default(300),
  /** A sent device that is not active after this long counts as timed out (offline devices too). */
  deviceTimeoutSeconds: timeoutSchema.default(1800),
  /** What a tripped threshold or gate does. A rollback never rolls back (it pauses). */
  onFailure: z.enum(['pause', 'rollback']).default('rollback'),
  gates: gatesSchema.default(DEFAULT_GATES),
  /** How far before a wave started the old model's telemetry counts as the gates' baseline. */
  gateBaselineSeconds: z.number().int().min(0).max(86_400).default(900),
  /** Run a shadow phase on the first wave's devices before any of them switches (see above). */
  shadow: shadowPolicySchema.optional(),
  /**
   * When the rollout completes, point this alias (e.g. `champion`) of the model at the rollout's
   * version, in the same transaction that records the completion.
   */
  promoteAlias: nameSchema.optional(),
});
export type RolloutPolicy = z.output<typeof rolloutPolicySchema>;
export type RolloutPolicyInput = z.input<typeof rolloutPolicySchema>;

/** A wave's effective parameters: the rollout's, overridden by the wave's own. */
export interface WaveParams {
  successThreshold: number;
  failureThreshold: number;
  minSoakSeconds: number;
  deviceTimeoutSeconds: number;
  /**
   * The shadow phase that runs before this wave (the first wave of a rollout with `shadow`), kept
   * here (the wave row's `params` jsonb) so it is persisted and resumed with the wave.
   */
  shadow?: ShadowPhase;
}

export function waveParams(policy: RolloutPolicy, spec: WaveSpec): WaveParams {
  return {
    successThreshold: spec.successThreshold ?? policy.successThreshold,
    failureThreshold: spec.failureThreshold ?? policy.failureThreshold,
    minSoakSeconds: spec.minSoakSeconds ?? policy.minSoakSeconds,
    deviceTimeoutSeconds: spec.deviceTimeoutSeconds ?? policy.deviceTimeoutSeconds,
  };
}

/**
 * Parses `5%,25%,100%` or `1,10,100%` (CLI): a number with `%` is a percent, a bare one a count.
 */
export function parseWaveList(text: string): WaveSpec[] {
  return text.split(',').map((part) => {
    const trimmed = part.trim();
    const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(trimmed);
    if (!match) throw new RangeError(`wave "${trimmed}" is neither a percent (25%) nor a count (10)`);
    const value = Number(match[1]);
    return match[2] === '%' ? { percent: value } : { count: value };
  });
}
