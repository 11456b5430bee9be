// /api/v1/rollouts: create (operator), list and show with per-wave counts, devices and events
// (viewer), and the operator commands pause, resume, abort, rollback. An overlapping rollout is
// refused with 409 CONFLICT and `details.conflicts` listing each device and the rollout holding it.
import { createRoute, z } from '@hono/zod-openapi';
import type { RolloutService } from '../../rollouts/service.ts';
import { requireRole } from '../auth/middleware.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import {
  CommandBody,
  CreateRolloutBody,
  EventsQuery,
  ListRolloutsQuery,
  Rollout,
  RolloutDevice,
  RolloutEvent,
  RolloutId,
} from './schemas.ts';

const common = { tags: ['rollouts'], security: bearerSecurity };
const IdParam = z.object({ id: RolloutId.meta({ param: { name: 'id', in: 'path' } }) });

const createRollout = createRoute({
  ...common,
  method: 'post',
  path: '/',
  summary: 'Plan and start a rollout (operator)',
  description:
    'Resolves the version (or alias), the target devices and each one’s variant, assigns waves and starts. 409 with details.conflicts when a device is in another unfinished rollout.',
  middleware: [requireRole('operator')] as const,
  request: { body: jsonBody(CreateRolloutBody) },
  responses: { 201: jsonResponse(Rollout, 'Created'), ...errorResponses(...AUTH_ERRORS, 404, 409, 413) },
});
const listRollouts = createRoute({
  ...common,
  method: 'get',
  path: '/',
  summary: 'List rollouts, newest first (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { query: ListRolloutsQuery },
  responses: {
    200: jsonResponse(z.object({ items: z.array(Rollout) }), 'Rollouts'),
    ...errorResponses(...AUTH_ERRORS),
  },
});
const showRollout = createRoute({
  ...common,
  method: 'get',
  path: '/{id}',
  summary: 'Show a rollout with per-wave progress (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: IdParam },
  responses: { 200: jsonResponse(Rollout, 'The rollout'), ...errorResponses(...AUTH_ERRORS, 404) },
});
const rolloutDevices = createRoute({
  ...common,
  method: 'get',
  path: '/{id}/devices',
  summary: 'Every device of a rollout with its state (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: IdParam },
  responses: {
    200: jsonResponse(z.object({ items: z.array(RolloutDevice) }), 'Devices'),
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});
const rolloutEvents = createRoute({
  ...common,
  method: 'get',
  path: '/{id}/events',
  summary: 'Transitions of a rollout, its waves and devices, with reasons (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: IdParam, query: EventsQuery },
  responses: {
    200: jsonResponse(z.object({ items: z.array(RolloutEvent) }), 'Events, oldest first'),
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});

const COMMANDS = {
  pause: 'Pause a running rollout: sent devices carry on, no new wave starts',
  resume: 'Resume a paused rollout: failures so far are accepted, soak and timeouts restart',
  abort: 'Abort a rollout: devices keep what they have, their claims are released',
  rollback: 'Roll back: a new one-wave rollout returns every touched device to its previous model',
} as const;

function commandRoute(name: keyof typeof COMMANDS) {
  return createRoute({
    ...common,
    method: 'post',
    path: `/{id}/${name}`,
    summary: `${COMMANDS[name]} (operator)`,
    middleware: [requireRole('operator')] as const,
    request: { params: IdParam, body: jsonBody(CommandBody) },
    responses: {
      200: jsonResponse(Rollout, 'The rollout after the command'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  });
}

export function rolloutRoutes(service: RolloutService) {
  const router = newRouter()
    .openapi(createRollout, async (c) =>
      c.json(await service.create(c.req.valid('json'), c.get('principal').name), 201),
    )
    .openapi(listRollouts, async (c) => {
      const { status, limit } = c.req.valid('query');
      return c.json({ items: await service.list({ limit, ...(status ? { status } : {}) }) }, 200);
    })
    .openapi(showRollout, async (c) => c.json(await service.get(c.req.valid('param').id), 200))
    .openapi(rolloutDevices, async (c) =>
      c.json({ items: await service.devices(c.req.valid('param').id) }, 200),
    )
    .openapi(rolloutEvents, async (c) => {
      const { id } = c.req.valid('param');
      const { after, limit } = c.req.valid('query');
      await service.get(id); // 404 for an unknown rollout rather than an empty list
      const events = await service.events(id, { limit, ...(after === undefined ? {} : { afterId: after }) });
      return c.json(
        { items: events.map((e) => ({ ...e, at: e.at.toISOString(), data: e.data ?? {} })) },
        200,
      );
    });
  for (const name of Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]) {
    router.openapi(commandRoute(name), async (c) => {
      const { reason } = c.req.valid('json');
      return c.json(await service[name](c.req.valid('param').id, c.get('principal').name, reason), 200);
    });
  }
  return router;
}
