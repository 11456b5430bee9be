// POST /api/v1/telemetry: the browser's MQTT. Apps using the web SDK send batched telemetry windows
// (the shared `TelemetryWindow` contract, exactly what agents publish) with their app key. Browsers
// have no provisioned identity: a device id is `web-<anonymous install id>`, registered on first
// sight with the `browser` class, and never one an MQTT device already holds.
import { webTelemetryAcceptedSchema, webTelemetryBatchSchema } from '@edgeloop/shared';
import { createRoute } from '@hono/zod-openapi';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDatabase } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import { WebTelemetryIntake, type WebTelemetrySink } from './intake.ts';

export { webTelemetryBeaconRoutes } from './beacon.ts';
export type { WebTelemetrySink } from './intake.ts';

const WebTelemetryBatch = webTelemetryBatchSchema.meta({ id: 'WebTelemetryBatch' });
const Accepted = webTelemetryAcceptedSchema.meta({ id: 'WebTelemetryAccepted' });

const postTelemetry = createRoute({
  tags: ['telemetry'],
  security: bearerSecurity,
  method: 'post',
  path: '/',
  summary: 'Telemetry windows from a browser or web view (app key with telemetry:write)',
  middleware: [requireRole('viewer')] as const,
  request: { body: jsonBody(WebTelemetryBatch) },
  responses: {
    202: jsonResponse(Accepted, 'Queued for the same ingestion as MQTT telemetry'),
    ...errorResponses(...AUTH_ERRORS, 413, 503),
  },
});

export function webTelemetryRoutes(db: ApiDatabase, sink: WebTelemetrySink) {
  const intake = new WebTelemetryIntake(db, sink);
  return newRouter().openapi(postTelemetry, async (c) => {
    const { windows } = c.req.valid('json');
    return c.json(await intake.accept(c, windows, c.get('principal').name), 202);
  });
}
