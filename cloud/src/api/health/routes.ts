// Liveness and readiness, without authentication (load balancers and orchestrators call them).
// Liveness says the process serves HTTP; readiness asks each dependency, so a cloud whose database
// went away is taken out of rotation instead of answering 500s.
import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps, ReadinessCheck } from '../deps.ts';
import { jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';

/** A dependency that does not answer within this long counts as down. */
const CHECK_TIMEOUT_MS = 2_000;

const Check = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const Readiness = z
  .object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), Check) })
  .meta({ id: 'Readiness' });

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness: the process is up',
  responses: { 200: jsonResponse(z.object({ status: z.literal('ok') }), 'Alive') },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['health'],
  summary: 'Readiness: database and broker answer',
  responses: { 200: jsonResponse(Readiness, 'Ready'), 503: jsonResponse(Readiness, 'A dependency is down') },
});

async function runCheck(check: ReadinessCheck): Promise<z.infer<typeof Check>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: ApiDeps) {
  return newRouter()
    .openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(readyz, async (c) => {
      const names = Object.keys(deps.readiness);
      const results = await Promise.all(names.map((n) => runCheck(deps.readiness[n] as ReadinessCheck)));
      const checks = Object.fromEntries(names.map((n, i) => [n, results[i] as z.infer<typeof Check>]));
      const ready = results.every((r) => r.ok);
      if (!ready) c.get('logger').warn({ checks }, 'not ready');
      return ready
        ? c.json({ status: 'ready' as const, checks }, 200)
        : c.json({ status: 'not_ready' as const, checks }, 503);
    });
}
