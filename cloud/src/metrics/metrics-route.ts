// GET /metrics for Prometheus. Auth follows the operator API: a bearer token of at least the
// viewer role (Prometheus: `authorization: { type: Bearer, credentials_file: ... }`), because the
// fleet's shape (device counts per group, model versions) is operator information and the HTTP
// port may be public. /api/v1/metrics serves the same registry under the API prefix.
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { authenticate, requireRole } from '../api/auth/middleware.ts';
import type { ApiTokenStore } from '../api/auth/token-store.ts';
import type { ApiEnv } from '../api/deps.ts';

export function metricsRoute(registry: Registry, tokens: ApiTokenStore): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/metrics', authenticate(tokens), requireRole('viewer'), async (c) =>
    c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType }),
  );
  return app;
}
