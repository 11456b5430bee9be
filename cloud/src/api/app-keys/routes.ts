// /api/v1/app-keys (admin): create — the key is in the response once and never again — list,
// revoke. App keys are for browser and mobile apps using the web SDK (scopes.ts says what they open).
import { createRoute, z } from '@hono/zod-openapi';
import { requireRole } from '../auth/middleware.ts';
import {
  AUTH_ERRORS,
  bearerSecurity,
  errorResponses,
  isoTimestamp,
  jsonBody,
  jsonResponse,
} from '../openapi.ts';
import { newRouter } from '../router.ts';
import { allowedOriginSchema } from './origins.ts';
import { appKeyScopeSchema } from './scopes.ts';
import type { AppKeyRecord, AppKeyStore } from './store.ts';

const AppKeyId = z.string().regex(/^[a-f0-9]{12}$/, 'app key id is 12 characters of [a-f0-9]');

export const AppKey = z
  .object({
    id: AppKeyId,
    name: z.string(),
    allowedOrigins: z.array(z.string()),
    scopes: z.array(appKeyScopeSchema),
    createdAt: isoTimestamp,
    revokedAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'AppKey' });

const CreateAppKeyBody = z
  .strictObject({
    name: z.string().min(1).max(100).meta({ example: 'shop-frontend' }),
    /** Browser origins allowed to call with the key; empty = only pages the cloud serves itself. */
    allowedOrigins: z.array(allowedOriginSchema).max(50).optional(),
    /** Default: every app-key scope. */
    scopes: z.array(appKeyScopeSchema).min(1).optional(),
  })
  .meta({ id: 'CreateAppKey' });

export const CreatedAppKey = z
  .object({ key: z.string().meta({ description: 'Shown once: store it now' }), record: AppKey })
  .meta({ id: 'CreatedAppKey' });

const AppKeyParam = z.object({ id: AppKeyId.meta({ param: { name: 'id', in: 'path' } }) });

const common = { tags: ['app keys'], security: bearerSecurity };

const createAppKey = createRoute({
  ...common,
  method: 'post',
  middleware: [requireRole('admin')] as const,
  path: '/',
  summary: 'Create an app key for the web SDK (admin)',
  request: { body: jsonBody(CreateAppKeyBody) },
  responses: { 201: jsonResponse(CreatedAppKey, 'The key, once'), ...errorResponses(...AUTH_ERRORS, 413) },
});
const listAppKeys = createRoute({
  ...common,
  method: 'get',
  middleware: [requireRole('admin')] as const,
  path: '/',
  summary: 'List app keys without their secrets (admin)',
  responses: {
    200: jsonResponse(z.object({ items: z.array(AppKey) }), 'App keys'),
    ...errorResponses(...AUTH_ERRORS),
  },
});
const revokeAppKey = createRoute({
  ...common,
  method: 'delete',
  middleware: [requireRole('admin')] as const,
  path: '/{id}',
  summary: 'Revoke an app key (admin); it is refused from the next request on',
  request: { params: AppKeyParam },
  responses: { 200: jsonResponse(AppKey, 'The revoked key'), ...errorResponses(...AUTH_ERRORS, 404) },
});

export function toAppKeyView(row: AppKeyRecord): z.infer<typeof AppKey> {
  return {
    id: row.id,
    name: row.name,
    allowedOrigins: row.allowedOrigins,
    scopes: row.scopes as z.infer<typeof AppKey>['scopes'],
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

export function appKeyRoutes(store: AppKeyStore) {
  return newRouter()
    .openapi(createAppKey, async (c) => {
      const { key, record } = await store.create(c.req.valid('json'));
      c.get('logger').info({ appKey: record.id, origins: record.allowedOrigins }, 'app key created');
      return c.json({ key, record: toAppKeyView(record) }, 201);
    })
    .openapi(listAppKeys, async (c) => c.json({ items: (await store.list()).map(toAppKeyView) }, 200))
    .openapi(revokeAppKey, async (c) => {
      const record = await store.revoke(c.req.valid('param').id);
      c.get('logger').info({ appKey: record.id }, 'app key revoked');
      return c.json(toAppKeyView(record), 200);
    });
}
