// GET /api/v1/artifacts/{sha256}: an artifact's bytes over HTTP (the web SDK's download; MQTT
// devices fetch chunks instead). Content-addressed, so it never changes: cached forever, ETag the
// hash. Only registered artifacts are served, not blobs a failed registration left behind.
import { Readable } from 'node:stream';
import { EdgeloopError } from '@edgeloop/shared';
import { createRoute, z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/index.ts';
import { artifacts } from '../../db/schema.ts';
import { requireRole } from '../auth/middleware.ts';
import type { ModelApiDeps } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses } from '../openapi.ts';
import { newRouter } from '../router.ts';
import { Sha256Param } from './schemas.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';

const download = createRoute({
  tags: ['models'],
  security: bearerSecurity,
  method: 'get',
  path: '/{sha256}',
  summary: 'Download an artifact by its sha256 (viewer); verify it against the signed manifest',
  middleware: [requireRole('viewer')] as const,
  request: { params: Sha256Param },
  responses: {
    200: {
      description: 'The artifact bytes',
      content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
    },
    304: { description: 'Not modified (If-None-Match matched)' },
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});

export function artifactRoutes(models: ModelApiDeps, db: Db) {
  return newRouter().openapi(download, async (c) => {
    const { sha256 } = c.req.valid('param');
    const [row] = await db.select().from(artifacts).where(eq(artifacts.sha256, sha256));
    if (row === undefined) throw new EdgeloopError('NOT_FOUND', `artifact ${sha256} does not exist`);
    const etag = `"${sha256}"`;
    const headers = { ETag: etag, 'Cache-Control': IMMUTABLE };
    const match = c.req.header('if-none-match');
    if (match?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      return c.body(null, 304, headers);
    }
    const stream = await models.store.createReadStream(sha256);
    return c.body(Readable.toWeb(stream) as ReadableStream<Uint8Array>, 200, {
      ...headers,
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(row.size),
    });
  });
}
