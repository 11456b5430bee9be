import * as z from 'zod';
import { isBase64 } from '../encoding.ts';
import { epochMsSchema, modelRefSchema } from '../ids.ts';
import { definePayload } from '../payload.ts';

/**
 * `el/v1/dev/{id}/samples`, QoS 1, opt-in and rate-limited by the profile: inputs the device saw,
 * with what the model predicted, for retraining. Images travel preprocessed (the model's input
 * tensor, float32 little-endian, base64) so the cloud trains on exactly what the model saw.
 */
export const sampleSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  capturedAt: epochMsSchema,
  /** Telemetry window the sample belongs to. */
  windowSeq: z.number().int().nonnegative().optional(),
  model: modelRefSchema,
  prediction: z.object({
    classIndex: z.number().int().nonnegative().max(999),
    confidence: z.number().min(0).max(1),
  }),
  reason: z.enum(['random', 'low-confidence']),
  tensor: z.object({
    shape: z.array(z.number().int().positive()).min(1).max(4),
    data: z.string().max(200_000).refine(isBase64, 'must be base64'),
  }),
  /** Ground truth when the source knows it (the simulator's synthetic camera does). */
  label: z.number().int().nonnegative().max(999).optional(),
});
export type Sample = z.infer<typeof sampleSchema>;

export const sampleBatchSchema = z.object({
  v: z.literal(1),
  deviceId: z.string().min(1).max(64),
  samples: z.array(sampleSchema).min(1).max(32),
});
export type SampleBatch = z.infer<typeof sampleBatchSchema>;

export const sampleBatchPayload = definePayload('samples', sampleBatchSchema, { maxBytes: 512 * 1024 });
