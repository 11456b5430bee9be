// HTTP shapes of the rollout routes. The create body is the rollouts module's own schema (one
// definition for API, CLI and service); responses describe the views the dashboard and CLI render.
import { z } from 'zod';
import { rolloutPolicySchema, rolloutTargetSchema } from '../../rollouts/policy.ts';
import { createRolloutSchema } from '../../rollouts/service.ts';
import { isoTimestamp } from '../openapi.ts';

export const RolloutId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'rollout id is 1-64 of [A-Za-z0-9_-]')
  .meta({ example: 'ro-3f9a0c12be45' });

export const RolloutStatus = z.enum(['running', 'paused', 'completed', 'aborted', 'rolled_back']);

export const CreateRolloutBody = createRolloutSchema.meta({ id: 'CreateRollout' });

export const CommandBody = z
  .strictObject({ reason: z.string().min(1).max(500).optional() })
  .meta({ id: 'RolloutCommand' });

const Counts = z
  .object({
    total: z.number().int(),
    pending: z.number().int(),
    inProgress: z.number().int(),
    active: z.number().int(),
    failed: z.number().int(),
    timedOut: z.number().int(),
    flagged: z.number().int(),
  })
  .meta({ id: 'RolloutCounts' });

const Wave = z
  .object({
    index: z.number().int(),
    status: z.enum(['pending', 'running', 'soaking', 'passed', 'failed']),
    params: z.object({
      successThreshold: z.number(),
      failureThreshold: z.number(),
      minSoakSeconds: z.number().int(),
      deviceTimeoutSeconds: z.number().int(),
    }),
    counts: Counts,
    startedAt: isoTimestamp.nullable(),
    soakStartedAt: isoTimestamp.nullable(),
    finishedAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'RolloutWave' });

const ShadowResult = z
  .object({
    devices: z.number().int(),
    windows: z.number().int(),
    frames: z.number().int(),
    agreements: z.number().int(),
    errors: z.number().int(),
    agreement: z.number().nullable(),
    p95LatencyMs: z.number().nullable(),
    activeP95LatencyMs: z.number().nullable(),
  })
  .meta({ id: 'RolloutShadowResult' });

const Shadow = z
  .object({
    wave: z.number().int(),
    status: z.enum(['pending', 'running', 'passed', 'failed', 'cancelled']),
    rate: z.number(),
    minAgreement: z.number(),
    minFrames: z.number().int(),
    soakSeconds: z.number().int(),
    startedAt: isoTimestamp.nullable(),
    finishedAt: isoTimestamp.nullable(),
    devices: z.number().int().meta({ description: 'Devices whose desired state carries the shadow now' }),
    result: ShadowResult.nullable().meta({
      description: 'Agreement and latency of the last verdict, or the live ones while the phase runs',
    }),
    live: z.boolean(),
  })
  .meta({ id: 'RolloutShadow' });

export const Rollout = z
  .object({
    id: RolloutId,
    kind: z.enum(['rollout', 'rollback']),
    rollbackOf: RolloutId.nullable(),
    rolledBackBy: RolloutId.nullable(),
    model: z.string(),
    version: z.number().int(),
    target: rolloutTargetSchema,
    policy: rolloutPolicySchema,
    status: RolloutStatus,
    reason: z.string(),
    currentWave: z.number().int(),
    createdBy: z.string(),
    createdAt: isoTimestamp,
    updatedAt: isoTimestamp,
    finishedAt: isoTimestamp.nullable(),
    totals: Counts,
    waves: z.array(Wave),
    excluded: z.array(z.object({ deviceId: z.string(), reason: z.string() })),
    /** Absent from older servers; null without shadow mode. */
    shadow: Shadow.nullable().default(null),
  })
  .meta({ id: 'Rollout' });

export const RolloutDevice = z
  .object({
    deviceId: z.string(),
    wave: z.number().int().nullable(),
    state: z.enum([
      'excluded',
      'pending',
      'sent',
      'downloading',
      'verifying',
      'activating',
      'retrying',
      'active',
      'failed',
      'rolled_back',
      'rejected',
      'timed_out',
    ]),
    version: z.number().int().nullable(),
    variant: z.string().nullable(),
    sha256: z.string().nullable(),
    fromVersion: z.string().nullable(),
    generation: z.number().int().nullable(),
    flagged: z.boolean(),
    reason: z.string(),
    sentAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'RolloutDevice' });

export const RolloutEvent = z
  .object({
    id: z.number().int(),
    at: isoTimestamp,
    kind: z.string().meta({ example: 'wave.passed' }),
    wave: z.number().int().nullable(),
    deviceId: z.string().nullable(),
    reason: z.string(),
    actor: z.string(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'RolloutEvent' });

export const ListRolloutsQuery = z.strictObject({
  status: RolloutStatus.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const EventsQuery = z.strictObject({
  /** Only events after this id: how a live view polls for what is new. */
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
