// /api/v1/models: list, show a model or a version, resolve an alias for a device class, move an
// alias. Reads need the viewer role (the web SDK's app key is a viewer token); moving an alias
// changes what devices run, so it needs an operator.
import { EdgeloopError, modelResolutionQuerySchema, modelResolutionSchema } from '@edgeloop/shared';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { requireRole } from '../auth/middleware.ts';
import type { ApiEnv, ModelApiDeps } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import { chooseVariant } from './resolve.ts';
import {
  AliasChange,
  AliasParam,
  ModelDetail,
  ModelParam,
  ModelSummary,
  SetAliasBody,
  VersionDetail,
  VersionParam,
} from './schemas.ts';
import { artifactUrl, detailView, summaryView, versionView } from './views.ts';

const common = { tags: ['models'], security: bearerSecurity };

const listModels = createRoute({
  ...common,
  method: 'get',
  path: '/',
  summary: 'List models with their latest version and aliases (viewer)',
  middleware: [requireRole('viewer')] as const,
  responses: {
    200: jsonResponse(z.object({ items: z.array(ModelSummary) }), 'Models by name'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const showModel = createRoute({
  ...common,
  method: 'get',
  path: '/{name}',
  summary: 'Show a model: classes, versions with their variants, aliases (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: ModelParam },
  responses: { 200: jsonResponse(ModelDetail, 'The model'), ...errorResponses(...AUTH_ERRORS, 404) },
});

const showVersion = createRoute({
  ...common,
  method: 'get',
  path: '/{name}/versions/{version}',
  summary: 'Show a version: lineage, metrics, signed manifests of its variants (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: VersionParam },
  responses: { 200: jsonResponse(VersionDetail, 'The version'), ...errorResponses(...AUTH_ERRORS, 404) },
});

const resolve = createRoute({
  ...common,
  method: 'get',
  path: '/{name}/resolve',
  summary:
    'Which signed artifact a client runs for an alias: the variant its device class prefers, never larger than the class accepts (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: ModelParam, query: modelResolutionQuerySchema },
  responses: {
    200: jsonResponse(
      modelResolutionSchema.meta({ id: 'ModelResolution' }),
      'The signed manifest and where to download',
    ),
    ...errorResponses(...AUTH_ERRORS, 404, 413),
  },
});

const setAlias = createRoute({
  ...common,
  method: 'put',
  path: '/{name}/aliases/{alias}',
  summary: 'Point an alias at a version (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: AliasParam, body: jsonBody(SetAliasBody) },
  responses: { 200: jsonResponse(AliasChange, 'The move'), ...errorResponses(...AUTH_ERRORS, 404) },
});

export function actorOf(c: Context<ApiEnv>): string {
  return `token:${c.get('principal').tokenId}`;
}

export function modelRoutes(models: ModelApiDeps) {
  const { registry } = models;
  return newRouter()
    .openapi(listModels, async (c) => c.json({ items: (await registry.listModels()).map(summaryView) }, 200))
    .openapi(showModel, async (c) =>
      c.json(detailView(await registry.getModel(c.req.valid('param').name)), 200),
    )
    .openapi(showVersion, async (c) => {
      const { name, version } = c.req.valid('param');
      return c.json(versionView(await registry.getVersion(name, version)), 200);
    })
    .openapi(resolve, async (c) => {
      const { name } = c.req.valid('param');
      const { alias, deviceClass, variant } = c.req.valid('query');
      let profile: Awaited<ReturnType<ModelApiDeps['deviceProfiles']>> extends Map<string, infer P>
        ? P | undefined
        : never;
      if (deviceClass !== undefined) {
        const profiles = await models.deviceProfiles();
        profile = profiles.get(deviceClass);
        if (profile === undefined) {
          throw new EdgeloopError(
            'VALIDATION_FAILED',
            `unknown device class ${deviceClass} (known: ${[...profiles.keys()].sort().join(', ')})`,
            { details: [{ in: 'query', path: 'deviceClass', message: 'unknown device class' }] },
          );
        }
      }
      const target = await registry.resolveAlias(name, alias);
      const chosen = chooseVariant(target.variants, { variant, profile });
      return c.json(
        {
          manifest: chosen.manifest,
          signature: chosen.signature,
          alias,
          artifactUrl: artifactUrl(chosen.sha256),
        },
        200,
      );
    })
    .openapi(setAlias, async (c) => {
      const { name, alias } = c.req.valid('param');
      const change = await registry.setAlias(name, alias, c.req.valid('json').version, actorOf(c));
      c.get('logger').info({ model: name, alias, version: change.version }, 'alias moved');
      return c.json({ ...change, at: change.at.toISOString() }, 200);
    });
}
