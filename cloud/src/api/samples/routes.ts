// /api/v1/samples: the retraining samples devices sent, for operators to look at and label. Reading
// needs a viewer token; labelling (correct a label, or confirm the prediction) an operator's.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type SampleRecord, SampleStore, type SampleSummaryRecord, tensorPng } from '../../samples/index.ts';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps, ApiEnv } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import {
  LabelBody,
  ListSamplesQuery,
  PreviewQuery,
  SampleDetail,
  SampleIdParam,
  SampleList,
  SampleStats,
  SampleStatsQuery,
} from './schemas.ts';

const common = { tags: ['samples'], security: bearerSecurity };

const list = createRoute({
  ...common,
  method: 'get',
  path: '/',
  summary: 'List samples (viewer), newest first, without tensors',
  middleware: [requireRole('viewer')] as const,
  request: { query: ListSamplesQuery },
  responses: { 200: jsonResponse(SampleList, 'A page of samples'), ...errorResponses(...AUTH_ERRORS) },
});

const stats = createRoute({
  ...common,
  method: 'get',
  path: '/stats',
  summary: 'Labelled and unlabelled samples per model version, labels by source (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { query: SampleStatsQuery },
  responses: {
    200: jsonResponse(SampleStats, 'Counts per model version'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const show = createRoute({
  ...common,
  method: 'get',
  path: '/{id}',
  summary: 'Show a sample with its tensor (base64 float32 LE) and shape (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: SampleIdParam },
  responses: { 200: jsonResponse(SampleDetail, 'The sample'), ...errorResponses(...AUTH_ERRORS, 404) },
});

const preview = createRoute({
  ...common,
  method: 'get',
  path: '/{id}/image.png',
  summary: "A 1- or 3-channel image sample as PNG, the model's normalisation undone (viewer)",
  middleware: [requireRole('viewer')] as const,
  request: { params: SampleIdParam, query: PreviewQuery },
  responses: {
    200: {
      description: 'The image',
      content: { 'image/png': { schema: z.string().meta({ format: 'binary' }) } },
    },
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});

const label = createRoute({
  ...common,
  method: 'post',
  path: '/{id}/label',
  summary: 'Label a sample (operator): `{ label: n }` corrects, `{ confirm: true }` confirms the prediction',
  middleware: [requireRole('operator')] as const,
  request: { params: SampleIdParam, body: jsonBody(LabelBody) },
  responses: {
    200: jsonResponse(SampleDetail, 'The labelled sample'),
    ...errorResponses(...AUTH_ERRORS, 404, 413),
  },
});

function summary(row: SampleSummaryRecord) {
  return {
    id: row.id,
    device: row.deviceId,
    sampleId: row.sampleId,
    model: row.modelName,
    version: row.modelVersion,
    variant: row.variant,
    capturedAt: row.capturedAt.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    reason: row.reason,
    prediction: row.predictedClass,
    confidence: row.confidence,
    label: row.label,
    labelSource: row.labelSource,
  };
}

async function detail(store: SampleStore, row: SampleRecord): Promise<z.infer<typeof SampleDetail>> {
  const info = await store.versionInfo(row.modelName, row.modelVersion);
  return {
    ...summary(row),
    windowSeq: row.windowSeq,
    labelledBy: row.labelledBy,
    labelledAt: row.labelledAt?.toISOString() ?? null,
    classes: info?.classes ?? null,
    tensor: { shape: row.shape, dtype: 'float32', data: Buffer.from(row.tensor).toString('base64') },
  };
}

function labeller(c: Context<ApiEnv>) {
  const { name, tokenId } = c.get('principal');
  return { name, actor: `token:${tokenId}` };
}

/** Mounted at /api/v1/samples. */
export function sampleRoutes(deps: Pick<ApiDeps, 'db' | 'now'>) {
  const store = new SampleStore(deps.db, deps.now);
  return newRouter()
    .openapi(list, async (c) => {
      const { items, nextBefore } = await store.list(c.req.valid('query'));
      return c.json({ items: items.map(summary), nextBefore }, 200);
    })
    .openapi(stats, async (c) => {
      const rows = await store.stats(c.req.valid('query').model);
      return c.json(
        {
          versions: rows.map((r) => ({
            model: r.model,
            version: r.version,
            total: r.total,
            labelled: r.total - r.unlabelled,
            unlabelled: r.unlabelled,
            labelledBy: { device: r.device, operator: r.operator },
          })),
        },
        200,
      );
    })
    .openapi(show, async (c) => c.json(await detail(store, await store.get(c.req.valid('param').id)), 200))
    .openapi(preview, async (c) => {
      const row = await store.get(c.req.valid('param').id);
      const info = await store.versionInfo(row.modelName, row.modelVersion);
      const png = await tensorPng(row.tensor, row.shape, {
        ...(info ? { spec: info.preprocessing } : {}),
        scale: c.req.valid('query').scale,
      });
      return c.body(png as Uint8Array<ArrayBuffer>, 200, {
        'Content-Type': 'image/png',
        'Cache-Control': 'private, max-age=3600',
      });
    })
    .openapi(label, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const input = body.label === undefined ? ({ confirm: true } as const) : { label: body.label };
      const row = await store.label(id, input, labeller(c));
      c.get('logger').info(
        { sampleId: id, label: row.label, confirmed: body.confirm === true },
        'sample labelled',
      );
      return c.json(await detail(store, row), 200);
    });
}
