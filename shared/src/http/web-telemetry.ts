import * as z from 'zod';
import { telemetryWindowSchema } from '../messages/telemetry.ts';

/**
 * Telemetry from browsers and web views: the same `TelemetryWindow`s agents publish over MQTT,
 * batched over HTTP. Browsers have no provisioned identity: the device id is `web-` + an anonymous
 * install id the web SDK generates once per browser profile (random, kept in localStorage).
 */
export const WEB_TELEMETRY_PATH = '/api/v1/telemetry';
/**
 * `navigator.sendBeacon` target on page hide. A beacon cannot carry an Authorization header, so the
 * app key travels in the body and the body is JSON sent as text/plain (no CORS preflight).
 */
export const WEB_TELEMETRY_BEACON_PATH = '/api/v1/telemetry/beacon';
/** A minute's windows of a page left open offline for an hour fit; more waits for the next post. */
export const WEB_TELEMETRY_MAX_WINDOWS = 64;
/** Chromium's budget for in-flight beacons is 64 KiB; the cloud refuses larger beacon bodies. */
export const WEB_TELEMETRY_BEACON_MAX_BYTES = 64 * 1024;
export const WEB_DEVICE_CLASS = 'browser';
/** `web-` + the install id (4-60 of [a-z0-9_-]). */
export const WEB_DEVICE_ID_PATTERN = /^web-[a-z0-9][a-z0-9_-]{3,59}$/;

const windowsSchema = z
  .array(telemetryWindowSchema)
  .min(1)
  .max(WEB_TELEMETRY_MAX_WINDOWS)
  .refine((windows) => windows.every((w) => w.deviceId === windows[0]?.deviceId), {
    message: 'every window of a batch comes from one device',
  })
  .refine((windows) => WEB_DEVICE_ID_PATTERN.test(windows[0]?.deviceId ?? ''), {
    message: 'deviceId must be web-<install id> (4-60 of [a-z0-9_-])',
  });

/**
 * `POST /api/v1/telemetry` body (app key with `telemetry:write` as the bearer token).
 *
 * @example
 * webTelemetryBatchSchema.parse({ windows: [window] });
 */
export const webTelemetryBatchSchema = z.strictObject({ windows: windowsSchema });
export type WebTelemetryBatch = z.output<typeof webTelemetryBatchSchema>;

/** `POST /api/v1/telemetry/beacon` body: the batch plus the app key a beacon cannot send as a header. */
export const webTelemetryBeaconSchema = z.strictObject({
  appKey: z.string().min(1).max(256),
  windows: windowsSchema,
});
export type WebTelemetryBeacon = z.output<typeof webTelemetryBeaconSchema>;

/** The 202 answer to a batch. */
export const webTelemetryAcceptedSchema = z.object({
  deviceId: z.string(),
  accepted: z.number().int(),
  /** Windows over the per-device rate limit, not stored. */
  rateLimited: z.number().int(),
});
export type WebTelemetryAccepted = z.output<typeof webTelemetryAcceptedSchema>;
