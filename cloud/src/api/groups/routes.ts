// /api/v1/groups (CRUD) and /api/v1/tags (the tags in use, with counts).
import { createRoute, z } from '@hono/zod-openapi';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps } from '../deps.ts';
import { groupNameSchema } from '../devices/schemas.ts';
import {
  AUTH_ERRORS,
  bearerSecurity,
  errorResponses,
  isoTimestamp,
  jsonBody,
  jsonResponse,
} from '../openapi.ts';
import { newRouter } from '../router.ts';
import { GroupStore } from './store.ts';

export const Group = z
  .object({
    name: z.string(),
    description: z.string(),
    deviceCount: z.number().int(),
    createdAt: isoTimestamp,
  })
  .meta({ id: 'Group' });
const CreateGroupBody = z
  .strictObject({ name: groupNameSchema, description: z.string().max(500).optional() })
  .meta({ id: 'CreateGroup' });
const UpdateGroupBody = z.strictObject({ description: z.string().max(500) }).meta({ id: 'UpdateGroup' });
const GroupParam = z.object({ name: groupNameSchema.meta({ param: { name: 'name', in: 'path' } }) });
const TagList = z
  .object({ items: z.array(z.object({ tag: z.string(), deviceCount: z.number().int() })) })
  .meta({ id: 'TagList' });

const common = { tags: ['groups'], security: bearerSecurity };

const listGroups = createRoute({
  ...common,
  method: 'get',
  path: '/groups',
  summary: 'List groups with device counts (viewer)',
  middleware: [requireRole('viewer')] as const,
  responses: {
    200: jsonResponse(z.object({ items: z.array(Group) }), 'Groups'),
    ...errorResponses(...AUTH_ERRORS),
  },
});
const showGroup = createRoute({
  ...common,
  method: 'get',
  path: '/groups/{name}',
  summary: 'Show a group (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: GroupParam },
  responses: { 200: jsonResponse(Group, 'The group'), ...errorResponses(...AUTH_ERRORS, 404) },
});
const createGroup = createRoute({
  ...common,
  method: 'post',
  path: '/groups',
  summary: 'Create a group (operator)',
  middleware: [requireRole('operator')] as const,
  request: { body: jsonBody(CreateGroupBody) },
  responses: { 201: jsonResponse(Group, 'Created'), ...errorResponses(...AUTH_ERRORS, 409, 413) },
});
const updateGroup = createRoute({
  ...common,
  method: 'patch',
  path: '/groups/{name}',
  summary: 'Change a group description (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: GroupParam, body: jsonBody(UpdateGroupBody) },
  responses: { 200: jsonResponse(Group, 'Updated'), ...errorResponses(...AUTH_ERRORS, 404, 413) },
});
const deleteGroup = createRoute({
  ...common,
  method: 'delete',
  path: '/groups/{name}',
  summary: 'Delete a group; its devices stay, ungrouped (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: GroupParam },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(...AUTH_ERRORS, 404) },
});
const listTags = createRoute({
  ...common,
  method: 'get',
  path: '/tags',
  summary: 'Tags in use, with device counts (viewer)',
  middleware: [requireRole('viewer')] as const,
  responses: { 200: jsonResponse(TagList, 'Tags'), ...errorResponses(...AUTH_ERRORS) },
});

export function groupRoutes(deps: ApiDeps) {
  const store = new GroupStore(deps.db);
  return newRouter()
    .openapi(listGroups, async (c) => c.json({ items: await store.list() }, 200))
    .openapi(showGroup, async (c) => c.json(await store.get(c.req.valid('param').name), 200))
    .openapi(createGroup, async (c) => c.json(await store.create(c.req.valid('json')), 201))
    .openapi(updateGroup, async (c) =>
      c.json(await store.update(c.req.valid('param').name, c.req.valid('json')), 200),
    )
    .openapi(deleteGroup, async (c) => {
      await store.delete(c.req.valid('param').name);
      return c.body(null, 204);
    })
    .openapi(listTags, async (c) => c.json({ items: await store.tags() }, 200));
}
