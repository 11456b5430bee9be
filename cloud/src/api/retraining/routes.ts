// Retraining over HTTP: a model's policy (`GET/PUT /api/v1/models/{name}/retrain-policy`), the runs
// (`GET /api/v1/retrain/runs`, `GET /api/v1/retrain/runs/{id}`) and a manual start
// (`POST /api/v1/retrain/runs`), refused with 409 and `details.reason` (TOO_FEW_SAMPLES, COOLDOWN,
// RUN_IN_FLIGHT, RETRAIN_DISABLED) when the policy says no. Reads need a viewer, writes an operator.

import { modelNameSchema } from '@edgeloop/shared';
import { createRoute, z } from '@hono/zod-openapi';
import type { RetrainOrchestrator } from '../../retraining/index.ts';
import { requireRole } from '../auth/middleware.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import {
  ListRunsQuery,
  RetrainPolicyBody,
  RetrainPolicyView,
  RetrainRunView,
  RunId,
  StartRunBody,
} from './schemas.ts';

const common = { tags: ['retraining'], security: bearerSecurity };
const NameParam = z.object({ name: modelNameSchema.meta({ param: { name: 'name', in: 'path' } }) });
const IdParam = z.object({ id: RunId.meta({ param: { name: 'id', in: 'path' } }) });

const getPolicy = createRoute({
  ...common,
  method: 'get',
  path: '/models/{name}/retrain-policy',
  summary: 'A model’s retraining policy, or the defaults when none was set (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: NameParam },
  responses: { 200: jsonResponse(RetrainPolicyView, 'The policy'), ...errorResponses(...AUTH_ERRORS, 404) },
});
const putPolicy = createRoute({
  ...common,
  method: 'put',
  path: '/models/{name}/retrain-policy',
  summary: 'Replace a model’s retraining policy; omitted fields take their defaults (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: NameParam, body: jsonBody(RetrainPolicyBody) },
  responses: {
    200: jsonResponse(RetrainPolicyView, 'The stored policy'),
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});
const listRuns = createRoute({
  ...common,
  method: 'get',
  path: '/retrain/runs',
  summary: 'Retraining runs, newest first (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { query: ListRunsQuery },
  responses: {
    200: jsonResponse(z.object({ items: z.array(RetrainRunView) }), 'Runs'),
    ...errorResponses(...AUTH_ERRORS),
  },
});
const showRun = createRoute({
  ...common,
  method: 'get',
  path: '/retrain/runs/{id}',
  summary: 'One run: status, progress, evaluation, lineage, reason (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: IdParam },
  responses: { 200: jsonResponse(RetrainRunView, 'The run'), ...errorResponses(...AUTH_ERRORS, 404) },
});
const startRun = createRoute({
  ...common,
  method: 'post',
  path: '/retrain/runs',
  summary: 'Start a retraining run now (operator)',
  description:
    'Queues a run the orchestrator executes. 409 with details.reason when the policy refuses: RETRAIN_DISABLED, RUN_IN_FLIGHT, COOLDOWN or TOO_FEW_SAMPLES.',
  middleware: [requireRole('operator')] as const,
  request: { body: jsonBody(StartRunBody) },
  responses: { 201: jsonResponse(RetrainRunView, 'Queued'), ...errorResponses(...AUTH_ERRORS, 404, 409) },
});

/** Mounted at /api/v1. */
export function retrainingRoutes(orchestrator: RetrainOrchestrator) {
  return newRouter()
    .openapi(getPolicy, async (c) => {
      const { name } = c.req.valid('param');
      const { policy, stored } = await orchestrator.getPolicy(name);
      return c.json({ model: name, stored, policy }, 200);
    })
    .openapi(putPolicy, async (c) => {
      const { name } = c.req.valid('param');
      const policy = await orchestrator.putPolicy(name, c.req.valid('json'), c.get('principal').name);
      return c.json({ model: name, stored: true, policy }, 200);
    })
    .openapi(listRuns, async (c) => {
      const { model, status, limit } = c.req.valid('query');
      const items = await orchestrator.listRuns({
        limit,
        ...(model ? { model } : {}),
        ...(status ? { status: [status] } : {}),
      });
      return c.json({ items }, 200);
    })
    .openapi(showRun, async (c) => c.json(await orchestrator.getRun(c.req.valid('param').id), 200))
    .openapi(startRun, async (c) => {
      const { model } = c.req.valid('json');
      const principal = c.get('principal');
      const run = await orchestrator.request({
        model,
        trigger: 'manual',
        detail: { requestedBy: principal.name },
        actor: principal.name,
      });
      return c.json(run, 201);
    });
}
