// Long pipeline operations over HTTP: POST starts a job and answers 202 with its id at once; the job
// is then read with GET /api/v1/jobs/{id} or followed live over server-sent events. Starting work
// that registers versions needs an operator; an external trainer command runs on the cloud host, so
// it needs an admin.
import { base64Decode, EdgeloopError } from '@edgeloop/shared';
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { isTerminal, type Job } from '../../pipeline/index.ts';
import { requireRole } from '../auth/middleware.ts';
import { roleAllows } from '../auth/roles.ts';
import type { ModelApiDeps } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import { actorOf } from './routes.ts';
import {
  EvaluateBody,
  ImportBody,
  JobAccepted,
  JobParam,
  JobView,
  ModelParam,
  QuantizeBody,
  TrainBody,
  VersionParam,
} from './schemas.ts';
import { jobLinks, jobView } from './views.ts';

const common = { tags: ['jobs'], security: bearerSecurity };
const accepted = { 202: jsonResponse(JobAccepted, 'Started: follow the job at links.self or links.events') };
/** A comment line now and then keeps proxies from closing a quiet event stream. */
const HEARTBEAT_MS = 15_000;

const train = createRoute({
  ...common,
  method: 'post',
  path: '/{name}/train',
  summary: 'Train a new version: dataset → train → quantize → evaluate → register (operator; job)',
  middleware: [requireRole('operator')] as const,
  request: { params: ModelParam, body: jsonBody(TrainBody) },
  responses: { ...accepted, ...errorResponses(...AUTH_ERRORS, 413) },
});

const importModel = createRoute({
  ...common,
  method: 'post',
  path: '/import',
  summary:
    'Import an ONNX model: validate, quantize on calibration images, evaluate, register (operator; job)',
  middleware: [requireRole('operator')] as const,
  request: { body: jsonBody(ImportBody) },
  responses: { ...accepted, ...errorResponses(...AUTH_ERRORS, 413) },
});

const quantize = createRoute({
  ...common,
  method: 'post',
  path: '/{name}/versions/{version}/quantize',
  summary: 'Quantize a version again; the result is registered as a new version (operator; job)',
  middleware: [requireRole('operator')] as const,
  request: { params: VersionParam, body: jsonBody(QuantizeBody) },
  responses: { ...accepted, ...errorResponses(...AUTH_ERRORS, 404) },
});

const evaluate = createRoute({
  ...common,
  method: 'post',
  path: '/{name}/versions/{version}/evaluate',
  summary: 'Evaluate every variant of a version and compare it with the champion (operator; job)',
  middleware: [requireRole('operator')] as const,
  request: { params: VersionParam, body: jsonBody(EvaluateBody) },
  responses: { ...accepted, ...errorResponses(...AUTH_ERRORS, 404) },
});

const listJobs = createRoute({
  ...common,
  method: 'get',
  path: '/',
  summary: 'Recent jobs, newest first (viewer)',
  middleware: [requireRole('viewer')] as const,
  responses: {
    200: jsonResponse(z.object({ items: z.array(JobView) }), 'Jobs'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const showJob = createRoute({
  ...common,
  method: 'get',
  path: '/{id}',
  summary: 'A job: status, phase, progress, result or error (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: JobParam },
  responses: { 200: jsonResponse(JobView, 'The job'), ...errorResponses(...AUTH_ERRORS, 404) },
});

const jobEvents = createRoute({
  ...common,
  method: 'get',
  path: '/{id}/events',
  summary:
    'Server-sent events: `progress` with the job on every change, then one `end` with its final state (viewer)',
  middleware: [requireRole('viewer')] as const,
  request: { params: JobParam },
  responses: {
    200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } },
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});

const cancelJob = createRoute({
  ...common,
  method: 'delete',
  path: '/{id}',
  summary: 'Cancel a queued or running job (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: JobParam },
  responses: { 200: jsonResponse(JobView, 'The job as it stands'), ...errorResponses(...AUTH_ERRORS, 404) },
});

function startedResponse(job: Job) {
  return { job: jobView(job), links: jobLinks(job.id) };
}

/** POST routes under /api/v1/models that start jobs. */
export function modelJobRoutes(models: ModelApiDeps) {
  const { jobs } = models;
  return newRouter()
    .openapi(train, async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      if (body.trainer?.kind === 'external-command' && !roleAllows(c.get('principal').role, 'admin')) {
        throw new EdgeloopError(
          'FORBIDDEN',
          'an external trainer command runs on the cloud host: it needs the admin role',
        );
      }
      const job = jobs.train({
        model: name,
        dataset: body.dataset ?? { kind: 'mnist' },
        ...(body.trainer ? { trainer: body.trainer } : {}),
        ...(body.hyperparameters ? { hyperparameters: body.hyperparameters } : {}),
        ...(body.parentVersion ? { parentVersion: body.parentVersion } : {}),
        ...(body.aliases ? { aliases: body.aliases } : {}),
        ...(body.description ? { description: body.description } : {}),
        actor: actorOf(c),
      });
      c.get('logger').info({ jobId: job.id, model: name }, 'training job started');
      return c.json(startedResponse(job), 202);
    })
    .openapi(importModel, async (c) => {
      const body = c.req.valid('json');
      const request = {
        model: body.name,
        bytes: base64Decode(body.onnx),
        classes: body.classes,
        preprocessing: body.preprocessing,
        calibration: body.calibration,
        ...(body.outputRoles ? { outputRoles: body.outputRoles } : {}),
        ...(body.aliases ? { aliases: body.aliases } : {}),
        ...(body.description ? { description: body.description } : {}),
        actor: actorOf(c),
      };
      // A file that is not ONNX, reads no image, or disagrees with its classes is refused here and now.
      await jobs.pipeline.validateImport(request);
      const job = jobs.importModel(request);
      c.get('logger').info({ jobId: job.id, model: body.name }, 'import job started');
      return c.json(startedResponse(job), 202);
    })
    .openapi(quantize, async (c) => {
      const { name, version } = c.req.valid('param');
      const body = c.req.valid('json');
      await models.registry.getVersion(name, version); // 404 now rather than a failed job later
      const job = jobs.quantize({ model: name, version, ...body, actor: actorOf(c) });
      return c.json(startedResponse(job), 202);
    })
    .openapi(evaluate, async (c) => {
      const { name, version } = c.req.valid('param');
      const body = c.req.valid('json');
      await models.registry.getVersion(name, version);
      const job = jobs.evaluate({ model: name, version, ...body, actor: actorOf(c) });
      return c.json(startedResponse(job), 202);
    });
}

/** /api/v1/jobs. */
export function jobRoutes(models: ModelApiDeps) {
  const runner = models.jobs.runner;
  const find = (id: string) => {
    const job = runner.get(id);
    if (job === undefined)
      throw new EdgeloopError(
        'NOT_FOUND',
        `job ${id} does not exist (jobs are kept in memory until the cloud restarts)`,
      );
    return job;
  };
  return newRouter()
    .openapi(listJobs, (c) => c.json({ items: runner.list().map(jobView) }, 200))
    .openapi(showJob, (c) => c.json(jobView(find(c.req.valid('param').id)), 200))
    .openapi(cancelJob, (c) => {
      const { id } = c.req.valid('param');
      find(id);
      runner.cancel(id);
      return c.json(jobView(find(id)), 200);
    })
    .openapi(jobEvents, (c) => {
      const { id } = c.req.valid('param');
      find(id);
      return streamSSE(c, async (stream) => {
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => {
          finish = resolve;
        });
        let sequence = 0;
        // Writes are chained: writeSSE is async before it queues its bytes, and the stream closes
        // when this callback returns, so the last event must be written before that.
        let written: Promise<void> = Promise.resolve();
        const send = (job: Job) => {
          const message = {
            event: isTerminal(job.status) ? 'end' : 'progress',
            id: String(sequence++),
            data: JSON.stringify(jobView(job)),
          };
          written = written.then(() => stream.writeSSE(message)).catch(() => undefined);
        };
        let ended = false;
        const forward = (job: Job) => {
          if (ended) return;
          ended = isTerminal(job.status);
          send(job);
          if (ended) finish();
        };
        // Subscribe before reading the current state, so no change falls between the two.
        const unsubscribe = runner.subscribe(id, forward);
        stream.onAbort(() => finish());
        const current = runner.get(id);
        if (current === undefined) finish();
        else forward(current);
        const heartbeat = setInterval(() => void stream.write(': keep-alive\n\n'), HEARTBEAT_MS);
        try {
          await finished;
          await written;
        } finally {
          clearInterval(heartbeat);
          unsubscribe?.();
        }
      });
    });
}
