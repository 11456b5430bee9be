// Wire shapes of the fleet routes (dashboard reads): summary, per-minute series, a device's windows.
import { z } from '@hono/zod-openapi';
import { isoTimestamp } from '../openapi.ts';
import { FLEET_METRICS } from './queries.ts';

const HOUR_MS = 3_600_000;
/** Series reach back at most a day at minute resolution (1,440 points). */
const MAX_SINCE_MS = 24 * HOUR_MS;

export const FleetSummary = z
  .object({
    devices: z.array(
      z.object({
        deviceClass: z.string(),
        online: z.number().int(),
        offline: z.number().int(),
        unknown: z.number().int(),
      }),
    ),
    versions: z.array(
      z.object({
        model: z.string().nullable(),
        version: z.string().nullable(),
        variant: z.string().nullable(),
        devices: z.number().int(),
      }),
    ),
    lastHour: z.object({
      inferences: z.number(),
      errors: z.number(),
      latencyP95Ms: z.number().nullable(),
      activeMinutes: z.number().int(),
    }),
  })
  .meta({ id: 'FleetSummary' });

export const TimeseriesQuery = z.strictObject({
  metric: z.enum(FLEET_METRICS),
  bucket: z.literal('minute').default('minute'),
  /** ISO time; defaults to an hour ago and is clamped to a day. */
  since: isoTimestamp.optional(),
  deviceId: z.string().min(1).max(128).optional(),
});

/** The start of a series: `since` when given, an hour back otherwise, never more than a day back. */
export function seriesStart(since: string | undefined, now: Date): Date {
  const earliest = now.getTime() - MAX_SINCE_MS;
  const requested = since === undefined ? now.getTime() - HOUR_MS : Date.parse(since);
  return new Date(Math.max(earliest, requested));
}

export const FleetTimeseries = z
  .object({
    metric: z.enum(FLEET_METRICS),
    bucket: z.literal('minute'),
    since: isoTimestamp,
    points: z.array(z.object({ bucket: isoTimestamp, value: z.number().nullable() })),
  })
  .meta({ id: 'FleetTimeseries' });

export const DeviceTelemetryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(60),
});

export const DeviceTelemetry = z
  .object({
    deviceId: z.string(),
    windows: z.array(
      z.object({
        seq: z.number().int(),
        windowStart: isoTimestamp,
        windowEnd: isoTimestamp,
        model: z.string().nullable(),
        inferences: z.number(),
        errors: z.number(),
        latencyP50Ms: z.number().nullable(),
        latencyP95Ms: z.number().nullable(),
        meanConfidence: z.number().nullable(),
        classCounts: z.array(z.number()),
      }),
    ),
  })
  .meta({ id: 'DeviceTelemetry' });
