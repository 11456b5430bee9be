// /api/v1/drift: the drift reports the DriftMonitor stored, per model version and fleet slice, for
// the dashboard and anyone with a viewer token.
import { driftReportSchema } from '@edgeloop/shared';
import { createRoute, z } from '@hono/zod-openapi';
import { recentDriftReports } from '../../drift/index.ts';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, isoTimestamp, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';

export const DriftQuery = z.strictObject({
  model: z.string().min(1).max(64),
  version: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const DriftReports = z
  .object({
    reports: z.array(
      z.object({
        model: z.string(),
        version: z.number().int(),
        scopeKind: z.enum(['device_class', 'group']),
        scope: z.string(),
        windowStart: isoTimestamp,
        windowEnd: isoTimestamp,
        report: driftReportSchema,
      }),
    ),
  })
  .meta({ id: 'DriftReports' });

const list = createRoute({
  tags: ['drift'],
  security: bearerSecurity,
  method: 'get',
  path: '/',
  summary: 'Drift reports of a model (viewer), newest first, per version and device class or group',
  middleware: [requireRole('viewer')] as const,
  request: { query: DriftQuery },
  responses: {
    200: jsonResponse(DriftReports, 'Stored drift evaluations, newest first'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

/** Mounted at /api/v1/drift. */
export function driftRoutes(deps: Pick<ApiDeps, 'db'>) {
  return newRouter().openapi(list, async (c) => {
    const { model, version, limit } = c.req.valid('query');
    const reports = await recentDriftReports(deps.db, {
      model,
      limit,
      ...(version === undefined ? {} : { version }),
    });
    return c.json(
      {
        reports: reports.map((r) => ({
          ...r,
          windowStart: r.windowStart.toISOString(),
          windowEnd: r.windowEnd.toISOString(),
        })),
      },
      200,
    );
  });
}
