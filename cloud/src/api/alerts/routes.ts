// /api/v1/alerts: what the alert evaluator (cloud/src/alerts) opened and resolved, newest first, for
// the dashboard, the CLI and anyone with a viewer token.
import { createRoute, z } from '@hono/zod-openapi';
import { ALERT_KINDS, ALERT_SEVERITIES, type AlertRecord, listAlerts } from '../../alerts/index.ts';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, isoTimestamp, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';

export const AlertsQuery = z.strictObject({
  state: z.enum(['open', 'resolved', 'all']).default('open'),
  kind: z.enum(ALERT_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const Alert = z
  .object({
    id: z.number().int(),
    key: z.string().meta({ example: 'drift:digits:3:device_class:raspberry-pi-4' }),
    kind: z.enum(ALERT_KINDS),
    severity: z.enum(ALERT_SEVERITIES),
    subject: z.string().meta({ example: 'model:digits' }),
    message: z.string(),
    data: z.record(z.string(), z.unknown()),
    openedAt: isoTimestamp,
    lastSeenAt: isoTimestamp,
    resolvedAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'Alert' });

export const Alerts = z.object({ items: z.array(Alert) }).meta({ id: 'Alerts' });

const list = createRoute({
  tags: ['alerts'],
  security: bearerSecurity,
  method: 'get',
  path: '/',
  summary: 'Alerts (viewer): open by default, newest first; filter by state and kind',
  middleware: [requireRole('viewer')] as const,
  request: { query: AlertsQuery },
  responses: {
    200: jsonResponse(Alerts, 'Alerts, newest first'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

export function alertView(a: AlertRecord): z.infer<typeof Alert> {
  return {
    id: a.id,
    key: a.key,
    kind: a.kind,
    severity: a.severity,
    subject: a.subject,
    message: a.message,
    data: (a.data ?? {}) as Record<string, unknown>,
    openedAt: a.openedAt.toISOString(),
    lastSeenAt: a.lastSeenAt.toISOString(),
    resolvedAt: a.resolvedAt?.toISOString() ?? null,
  };
}

/** Mounted at /api/v1/alerts. */
export function alertRoutes(deps: Pick<ApiDeps, 'db'>) {
  return newRouter().openapi(list, async (c) => {
    const { state, kind, limit } = c.req.valid('query');
    const items = await listAlerts(deps.db, { state, limit, ...(kind ? { kind } : {}) });
    return c.json({ items: items.map(alertView) }, 200);
  });
}
