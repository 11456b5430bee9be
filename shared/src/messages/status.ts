import * as z from 'zod';
import { epochMsSchema } from '../ids.ts';
import { definePayload } from '../payload.ts';

/**
 * `el/v1/dev/{id}/status`, retained. The agent publishes `online` on connect (birth) and registers
 * an `offline` last will with the same boot id, so the cloud can tell a stale will from a new boot.
 */
export const deviceStatusSchema = z.object({
  v: z.literal(1),
  state: z.enum(['online', 'offline']),
  agentVersion: z.string().min(1).max(32),
  /** Device class (firmware-configs profile id). */
  profile: z.string().min(1).max(64),
  /** Random per agent start; changes on every reboot. */
  bootId: z.string().regex(/^[A-Za-z0-9_-]{6,64}$/),
  at: epochMsSchema,
});
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

export const deviceStatusPayload = definePayload('status', deviceStatusSchema, { maxBytes: 2 * 1024 });
