// /api/v1/fleet (summary, per-minute series) and /api/v1/devices/{id}/telemetry: read-only views
// for the dashboard and anyone else with a viewer token.
import { createRoute } from '@hono/zod-openapi';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps } from '../deps.ts';
import { DeviceIdParam } from '../devices/schemas.ts';
import { DeviceStore } from '../devices/store.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import { deviceWindows, fleetSummary, fleetTimeseries } from './queries.ts';
import {
  DeviceTelemetry,
  DeviceTelemetryQuery,
  FleetSummary,
  FleetTimeseries,
  seriesStart,
  TimeseriesQuery,
} from './schemas.ts';

const common = { tags: ['fleet'], security: bearerSecurity };

const summary = createRoute({
  ...common,
  method: 'get',
  path: '/summary',
  summary: 'Fleet overview (viewer): online/offline per class, active versions, last-hour telemetry',
  middleware: [requireRole('viewer')] as const,
  responses: { 200: jsonResponse(FleetSummary, 'The fleet now'), ...errorResponses(...AUTH_ERRORS) },
});

const timeseries = createRoute({
  ...common,
  method: 'get',
  path: '/timeseries',
  summary: 'One telemetry metric per minute (viewer), fleet-wide or for one device',
  middleware: [requireRole('viewer')] as const,
  request: { query: TimeseriesQuery },
  responses: {
    200: jsonResponse(FleetTimeseries, 'Minute buckets with data, oldest first'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const telemetry = createRoute({
  ...common,
  method: 'get',
  path: '/{id}/telemetry',
  summary: "A device's most recent telemetry windows (viewer), newest first",
  middleware: [requireRole('viewer')] as const,
  request: { params: DeviceIdParam, query: DeviceTelemetryQuery },
  responses: { 200: jsonResponse(DeviceTelemetry, 'Recent windows'), ...errorResponses(...AUTH_ERRORS, 404) },
});

const clock = (deps: ApiDeps) => deps.now?.() ?? new Date();

/** Mounted at /api/v1/fleet. */
export function fleetRoutes(deps: ApiDeps) {
  return newRouter()
    .openapi(summary, async (c) => c.json(await fleetSummary(deps.db, clock(deps)), 200))
    .openapi(timeseries, async (c) => {
      const query = c.req.valid('query');
      const since = seriesStart(query.since, clock(deps));
      const points = await fleetTimeseries(deps.db, query.metric, since, query.deviceId);
      return c.json(
        { metric: query.metric, bucket: 'minute' as const, since: since.toISOString(), points },
        200,
      );
    });
}

/** Mounted at /api/v1/devices, beside the device routes. */
export function deviceTelemetryRoutes(deps: ApiDeps) {
  const devices = new DeviceStore(deps.db, deps.now);
  return newRouter().openapi(telemetry, async (c) => {
    const { id } = c.req.valid('param');
    await devices.get(id); // 404 for a device that does not exist, rather than an empty list
    return c.json(
      { deviceId: id, windows: await deviceWindows(deps.db, id, c.req.valid('query').limit) },
      200,
    );
  });
}
