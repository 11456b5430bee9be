import * as z from 'zod';
import { epochMsSchema, rolloutIdSchema } from '../ids.ts';
import { signedManifestSchema } from '../manifest.ts';
import { definePayload } from '../payload.ts';

/** How an artifact is split for delivery over MQTT (not part of the signed manifest). */
export const deliverySchema = z.object({
  /** Bytes per chunk; the last chunk may be shorter. */
  chunkSize: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024),
  chunks: z.number().int().positive().max(1_000_000),
});
export type Delivery = z.infer<typeof deliverySchema>;

/** Runtime configuration the cloud may push with the desired state. All optional. */
export const deviceConfigSchema = z.object({
  telemetryWindowSeconds: z.number().int().min(5).max(3600).optional(),
  samplingRate: z.number().min(0).max(1).optional(),
});
export type DeviceConfig = z.infer<typeof deviceConfigSchema>;

/** A signed model with how it is split for delivery: what `desired` carries for each model it names. */
export const deliveredModelSchema = signedManifestSchema.extend({ delivery: deliverySchema });
export type DeliveredModel = z.infer<typeof deliveredModelSchema>;

/**
 * Shadow mode: the device also fetches and verifies this model and runs it beside the active one on
 * a share of its frames (`rate`), never acting on its output; each telemetry window then reports
 * how often the two agreed on the top class and the shadow's latency (`TelemetryWindow.shadow`).
 */
export const shadowSchema = z.object({
  model: deliveredModelSchema,
  rate: z.number().min(0).max(1),
});
export type Shadow = z.infer<typeof shadowSchema>;

const deliveryMatchesSize = (m: DeliveredModel) =>
  m.delivery.chunks === Math.ceil(m.manifest.size / m.delivery.chunkSize);

/**
 * `el/v1/dev/{id}/desired`, retained, QoS 1: the state the cloud wants the device in. A device that
 * reconnects after any outage reads the retained message and converges. `model: null` means "no
 * model assigned".
 */
export const desiredStateSchema = z
  .object({
    v: z.literal(1),
    /** Monotonic per device: a device ignores a desired state older than the one it has applied. */
    generation: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    rolloutId: rolloutIdSchema.nullable(),
    model: deliveredModelSchema.nullable(),
    config: deviceConfigSchema.default({}),
    /** Optional shadow model (rollout waves with shadow mode on); absent or null: none. */
    shadow: shadowSchema.nullable().default(null),
    issuedAt: epochMsSchema,
  })
  .refine((d) => !d.model || deliveryMatchesSize(d.model), {
    message: 'delivery.chunks must equal ceil(manifest.size / delivery.chunkSize)',
    path: ['model', 'delivery', 'chunks'],
  })
  .refine((d) => !d.shadow || deliveryMatchesSize(d.shadow.model), {
    message: 'delivery.chunks must equal ceil(manifest.size / delivery.chunkSize)',
    path: ['shadow', 'model', 'delivery', 'chunks'],
  });
export type DesiredState = z.output<typeof desiredStateSchema>;
export type DesiredStateInput = z.input<typeof desiredStateSchema>;

export const desiredStatePayload = definePayload('desired', desiredStateSchema, { maxBytes: 256 * 1024 });
