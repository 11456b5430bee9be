import * as z from 'zod';
import { countSchema, epochMsSchema, modelRefSchema } from '../ids.ts';
import { definePayload } from '../payload.ts';
import { windowSketchWireSchema } from '../sketches/window-sketch.ts';

const msSchema = z.number().finite().nonnegative().max(3_600_000);

/** Latency of the inferences in one window, in milliseconds. */
export const latencySummarySchema = z
  .object({
    count: countSchema,
    min: msSchema,
    max: msSchema,
    mean: msSchema,
    p50: msSchema,
    p95: msSchema,
    p99: msSchema,
  })
  .refine((l) => l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, {
    message: 'latency summary must satisfy min <= p50 <= p95 <= p99 <= max',
  });
export type LatencySummary = z.infer<typeof latencySummarySchema>;

/**
 * Shadow mode's results for one window: the shadow model ran on `frames` of the window's frames;
 * on `agreements` of them its top class matched the active model's.
 */
export const shadowSummarySchema = z
  .object({
    model: modelRefSchema,
    frames: countSchema,
    agreements: countSchema,
    errors: countSchema,
    latencyMs: latencySummarySchema.nullable(),
  })
  .refine((s) => s.agreements + s.errors <= s.frames, {
    message: 'agreements plus errors cannot exceed frames',
    path: ['agreements'],
  });
export type ShadowSummary = z.infer<typeof shadowSummarySchema>;

/**
 * `el/v1/dev/{id}/telemetry`, QoS 1: one window of a device's activity, summarised. Windows carry a
 * per-device sequence number so the cloud can deduplicate redelivered windows (device, seq).
 * `sketches` carries the window's drift sketches (see `WindowSketch`); optional, so agents without a
 * reference profile or an older build still send valid windows.
 */
export const telemetryWindowSchema = z
  .object({
    v: z.literal(1),
    /** Repeated in the payload and checked against the topic: a device cannot speak for another. */
    deviceId: z.string().min(1).max(64),
    seq: countSchema,
    windowStart: epochMsSchema,
    windowEnd: epochMsSchema,
    model: modelRefSchema.nullable(),
    inferences: countSchema,
    errors: countSchema,
    latencyMs: latencySummarySchema.nullable(),
    /** Predicted-class counts, by class index. */
    classCounts: z.array(countSchema).max(1000),
    /** Mean top-1 confidence over the window's inferences. */
    meanConfidence: z.number().min(0).max(1).nullable(),
    /** Windows the device had to drop from its offline queue since the last window it sent. */
    droppedWindows: countSchema.default(0),
    /** Drift sketches: bin counts against the reference profile's edges and/or quantile sketches. */
    sketches: windowSketchWireSchema.optional(),
    /** Shadow-mode results, when the desired state names a shadow model. */
    shadow: shadowSummarySchema.optional(),
  })
  .refine((t) => t.windowEnd >= t.windowStart, {
    message: 'windowEnd must not precede windowStart',
    path: ['windowEnd'],
  })
  .refine((t) => t.errors <= t.inferences, { message: 'errors cannot exceed inferences', path: ['errors'] });
export type TelemetryWindow = z.output<typeof telemetryWindowSchema>;
export type TelemetryWindowInput = z.input<typeof telemetryWindowSchema>;

export const telemetryWindowPayload = definePayload('telemetry', telemetryWindowSchema, {
  maxBytes: 16 * 1024,
});
