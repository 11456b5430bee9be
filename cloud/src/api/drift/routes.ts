// /api/v1/drift: the drift reports the DriftMonitor stored, per model version and fleet slice, for
// the dashboard and anyone with a viewer token; and the slices' own baselines (/baselines), which an
// operator requests when a slice's changed inputs are the new normal.
import { driftReportSchema, EdgeloopError } from '@edgeloop/shared';
import { createRoute, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { modelVersions } from '../../db/schema.ts';
import {
  DEFAULT_BASELINE_SAMPLES,
  type DriftBaseline,
  listBaselines,
  recentDriftReports,
  removeBaseline,
  requestBaseline,
} from '../../drift/index.ts';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps } from '../deps.ts';
import {
  AUTH_ERRORS,
  bearerSecurity,
  errorResponses,
  isoTimestamp,
  jsonBody,
  jsonResponse,
} from '../openapi.ts';
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

const BaselineKeyFields = {
  model: z.string().min(1).max(64),
  version: z.coerce.number().int().positive(),
  scopeKind: z.enum(['device_class', 'group']).default('device_class'),
  scope: z.string().max(128).meta({ description: "The device class or group name ('' for ungrouped)" }),
};

export const BaselineRequest = z
  .strictObject({
    ...BaselineKeyFields,
    version: z.number().int().positive(),
    samples: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(DEFAULT_BASELINE_SAMPLES)
      .meta({ description: 'Inferences of the slice to collect before they become its reference' }),
    reason: z.string().min(1).max(500).default('accepted by an operator as the new normal'),
  })
  .meta({ id: 'DriftBaselineRequest' });

export const Baseline = z
  .object({
    model: z.string(),
    version: z.number().int(),
    scopeKind: z.enum(['device_class', 'group']),
    scope: z.string(),
    status: z.enum(['collecting', 'active']),
    targetSamples: z.number().int(),
    collectedSamples: z.number().int(),
    /** Fingerprint of the spec the baseline bins against (the version's). */
    fingerprint: z.string().nullable(),
    reason: z.string(),
    requestedBy: z.string(),
    createdAt: isoTimestamp,
    activatedAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'DriftBaseline' });

const listBaselinesRoute = createRoute({
  tags: ['drift'],
  security: bearerSecurity,
  method: 'get',
  path: '/baselines',
  summary: 'Slices judged against their own collected baseline instead of the version profile (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { query: z.strictObject({ model: z.string().min(1).max(64).optional() }) },
  responses: {
    200: jsonResponse(z.object({ baselines: z.array(Baseline) }), 'Baselines, by model, version, slice'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const requestBaselineRoute = createRoute({
  tags: ['drift'],
  security: bearerSecurity,
  method: 'post',
  path: '/baselines',
  summary:
    "Accept a slice's current inputs as its new normal (operator): its next inferences become its reference",
  middleware: [requireRole('operator')] as const,
  request: { body: jsonBody(BaselineRequest) },
  responses: {
    201: jsonResponse(Baseline, 'Collecting'),
    ...errorResponses(...AUTH_ERRORS, 404, 409),
  },
});

const removeBaselineRoute = createRoute({
  tags: ['drift'],
  security: bearerSecurity,
  method: 'delete',
  path: '/baselines',
  summary: "Judge a slice against its version's profile again (operator)",
  middleware: [requireRole('operator')] as const,
  request: { query: z.strictObject(BaselineKeyFields) },
  responses: { 200: jsonResponse(Baseline, 'Removed'), ...errorResponses(...AUTH_ERRORS, 404) },
});

function baselineView(b: DriftBaseline): z.infer<typeof Baseline> {
  return {
    model: b.model,
    version: b.version,
    scopeKind: b.scopeKind,
    scope: b.scope,
    status: b.status,
    targetSamples: b.targetSamples,
    collectedSamples: b.collectedSamples,
    fingerprint: b.profile?.fingerprint ?? null,
    reason: b.reason,
    requestedBy: b.requestedBy,
    createdAt: b.createdAt.toISOString(),
    activatedAt: b.activatedAt?.toISOString() ?? null,
  };
}

/** Mounted at /api/v1/drift. */
export function driftRoutes(deps: Pick<ApiDeps, 'db'>) {
  return newRouter()
    .openapi(listBaselinesRoute, async (c) => {
      const { model } = c.req.valid('query');
      const baselines = await listBaselines(deps.db, model === undefined ? {} : { model });
      return c.json({ baselines: baselines.map(baselineView) }, 200);
    })
    .openapi(requestBaselineRoute, async (c) => {
      const body = c.req.valid('json');
      const [version] = await deps.db
        .select({ profile: modelVersions.referenceProfile })
        .from(modelVersions)
        .where(and(eq(modelVersions.modelName, body.model), eq(modelVersions.version, body.version)));
      if (version === undefined)
        throw new EdgeloopError('NOT_FOUND', `model ${body.model} version ${body.version}`);
      if (version.profile === null) {
        throw new EdgeloopError(
          'CONFLICT',
          `${body.model} v${body.version} has no reference profile, so its drift is not judged`,
        );
      }
      const baseline = await requestBaseline(deps.db, {
        model: body.model,
        version: body.version,
        scopeKind: body.scopeKind,
        scope: body.scope,
        targetSamples: body.samples,
        reason: body.reason,
        requestedBy: c.get('principal').name,
      });
      return c.json(baselineView(baseline), 201);
    })
    .openapi(removeBaselineRoute, async (c) => {
      const key = c.req.valid('query');
      return c.json(baselineView(await removeBaseline(deps.db, key)), 200);
    })
    .openapi(list, async (c) => {
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
