import * as z from 'zod';
import { errorCodeSchema } from '../errors.ts';
import { epochMsSchema, modelRefSchema, rolloutIdSchema, sha256Schema } from '../ids.ts';
import { definePayload } from '../payload.ts';

/** Where a device is in applying its desired state. */
export const updatePhaseSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('idle') }),
  z.object({
    state: z.literal('downloading'),
    sha256: sha256Schema,
    receivedChunks: z.number().int().nonnegative(),
    totalChunks: z.number().int().positive(),
  }),
  z.object({ state: z.literal('verifying'), sha256: sha256Schema }),
  z.object({ state: z.literal('activating'), sha256: sha256Schema }),
  z.object({ state: z.literal('active'), sha256: sha256Schema }),
  z.object({
    state: z.literal('failed'),
    sha256: sha256Schema.optional(),
    reason: errorCodeSchema,
    message: z.string().max(500),
  }),
  z.object({
    state: z.literal('rolled_back'),
    sha256: sha256Schema.optional(),
    reason: errorCodeSchema,
    message: z.string().max(500),
  }),
  /** The desired state itself was invalid (bad schema, bad signature): never acted on. */
  z.object({
    state: z.literal('rejected'),
    generation: z.number().int().nonnegative().optional(),
    reason: errorCodeSchema,
    message: z.string().max(500),
  }),
]);
export type UpdatePhase = z.infer<typeof updatePhaseSchema>;

/**
 * Where a device is with the shadow model its desired state names (shadow mode). `failed` carries
 * why: a fetch that timed out, a bad signature, a model that does not load, or `CONFLICT` when the
 * shadow is the model the device already serves. The active model keeps serving in every case.
 */
export const shadowStatusSchema = z.object({
  sha256: sha256Schema,
  state: z.enum(['fetching', 'ready', 'failed']),
  reason: errorCodeSchema.optional(),
  message: z.string().max(500).optional(),
});
export type ShadowStatus = z.infer<typeof shadowStatusSchema>;

/** `el/v1/dev/{id}/reported`, retained, QoS 1: what the device runs and what it is doing. */
export const reportedStateSchema = z.object({
  v: z.literal(1),
  /** The desired generation this report answers. */
  generation: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  rolloutId: rolloutIdSchema.nullable(),
  active: modelRefSchema.nullable(),
  previous: modelRefSchema.nullable(),
  phase: updatePhaseSchema,
  /** Absent when the desired state names no shadow model (and from agents before shadow mode). */
  shadow: shadowStatusSchema.optional(),
  at: epochMsSchema,
});
export type ReportedState = z.infer<typeof reportedStateSchema>;

export const reportedStatePayload = definePayload('reported', reportedStateSchema, { maxBytes: 8 * 1024 });
