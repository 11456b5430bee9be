// /api/v1/tokens (admin): issue — the token is in the response once and never again — list, revoke.
import { createRoute, z } from '@hono/zod-openapi';
import { requireRole } from '../auth/middleware.ts';
import { roleSchema } from '../auth/roles.ts';
import type { ApiTokenRecord, ApiTokenStore } from '../auth/token-store.ts';
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

const TokenId = z.string().regex(/^[a-z0-9]{12}$/, 'token id is 12 characters of [a-z0-9]');

export const ApiToken = z
  .object({
    id: TokenId,
    name: z.string(),
    role: roleSchema,
    createdAt: isoTimestamp,
    expiresAt: isoTimestamp.nullable(),
    revokedAt: isoTimestamp.nullable(),
    lastUsedAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'ApiToken' });

const CreateTokenBody = z
  .strictObject({
    name: z.string().min(1).max(100).meta({ example: 'ci-deploy' }),
    role: roleSchema,
    /** Lifetime; omitted = never expires. */
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .meta({ id: 'CreateToken' });

export const IssuedToken = z
  .object({ token: z.string().meta({ description: 'Shown once: store it now' }), record: ApiToken })
  .meta({ id: 'IssuedToken' });

const TokenParam = z.object({ id: TokenId.meta({ param: { name: 'id', in: 'path' } }) });

const common = { tags: ['tokens'], security: bearerSecurity };

const createToken = createRoute({
  ...common,
  method: 'post',
  middleware: [requireRole('admin')] as const,
  path: '/',
  summary: 'Issue an API token (admin)',
  request: { body: jsonBody(CreateTokenBody) },
  responses: { 201: jsonResponse(IssuedToken, 'The token, once'), ...errorResponses(...AUTH_ERRORS, 413) },
});
const listTokens = createRoute({
  ...common,
  method: 'get',
  middleware: [requireRole('admin')] as const,
  path: '/',
  summary: 'List API tokens without their secrets (admin)',
  responses: {
    200: jsonResponse(z.object({ items: z.array(ApiToken) }), 'Tokens'),
    ...errorResponses(...AUTH_ERRORS),
  },
});
const revokeToken = createRoute({
  ...common,
  method: 'delete',
  middleware: [requireRole('admin')] as const,
  path: '/{id}',
  summary: 'Revoke an API token (admin); it is rejected from the next request on',
  request: { params: TokenParam },
  responses: { 200: jsonResponse(ApiToken, 'The revoked token'), ...errorResponses(...AUTH_ERRORS, 404) },
});

export function toTokenView(row: ApiTokenRecord): z.infer<typeof ApiToken> {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

const DAY_MS = 86_400_000;

export function tokenRoutes(deps: ApiDeps, tokens: ApiTokenStore) {
  const now = deps.now ?? (() => new Date());
  return newRouter()
    .openapi(createToken, async (c) => {
      const body = c.req.valid('json');
      const expiresAt = body.expiresInDays ? new Date(now().getTime() + body.expiresInDays * DAY_MS) : null;
      const { token, record } = await tokens.create({ name: body.name, role: body.role, expiresAt });
      c.get('logger').info({ issued: record.id, role: record.role }, 'api token issued');
      return c.json({ token, record: toTokenView(record) }, 201);
    })
    .openapi(listTokens, async (c) => c.json({ items: (await tokens.list()).map(toTokenView) }, 200))
    .openapi(revokeToken, async (c) => {
      const record = await tokens.revoke(c.req.valid('param').id);
      c.get('logger').info({ revoked: record.id }, 'api token revoked');
      return c.json(toTokenView(record), 200);
    });
}
