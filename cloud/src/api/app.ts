// The operator API: one Hono app, composed from feature routers. Order matters and is the point of
// this file: request id → access log → (for /api) authentication → body limit → JSON-only bodies →
// route (role check, zod validation, handler). Every failure on the way ends in errorHandler.
import { EdgeloopError, WEB_TELEMETRY_BEACON_PATH } from '@edgeloop/shared';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import { Registry } from 'prom-client';
import { alertRoutes } from './alerts/routes.ts';
import { AppKeyStore, appKeyGuard, appKeyRoutes, sdkCors, WEB_TELEMETRY_PATH } from './app-keys/index.ts';
import { authenticate, requireRole } from './auth/middleware.ts';
import { ApiTokenStore } from './auth/token-store.ts';
import { brokerRoutes } from './broker/routes.ts';
import type { ApiDeps, ApiEnv } from './deps.ts';
import { deviceRoutes } from './devices/routes.ts';
import { docsPage } from './docs/page.ts';
import { driftRoutes } from './drift/routes.ts';
import { errorHandler } from './errors.ts';
import { deviceTelemetryRoutes, fleetRoutes } from './fleet/index.ts';
import { groupRoutes } from './groups/routes.ts';
import { healthRoutes } from './health/routes.ts';
import { keyRoutes, PUBLIC_KEYS_PATH } from './keys/routes.ts';
import { apiMetrics } from './metrics.ts';
import { artifactRoutes } from './models/artifacts.ts';
import { jobRoutes, modelJobRoutes } from './models/jobs.ts';
import { modelRoutes } from './models/routes.ts';
import { BEARER_SCHEME } from './openapi.ts';
import { retrainingRoutes } from './retraining/routes.ts';
import { rolloutRoutes } from './rollouts/routes.ts';
import { newRouter } from './router.ts';
import { sampleRoutes } from './samples/routes.ts';
import { tokenRoutes } from './tokens/routes.ts';
import { webTelemetryBeaconRoutes, webTelemetryRoutes } from './web-telemetry/routes.ts';

export const API_VERSION = '0.1.0';
const JSON_MEDIA = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
/** Model imports carry the ONNX file (base64 in JSON): they get their own, larger body limit. */
const IMPORT_PATH = '/api/v1/models/import';
const DEFAULT_UPLOAD_LIMIT = 256 * 1024 * 1024;

export function createApiApp(deps: ApiDeps) {
  const registry = deps.metrics ?? new Registry();
  const metrics = apiMetrics(registry);
  const tokens = new ApiTokenStore(deps.db, deps.now);
  const appKeys = new AppKeyStore(deps.db, deps.now);
  const onError = errorHandler(metrics);
  const app = newRouter();

  app.use(requestId({ headerName: 'X-Request-Id' }));
  app.use(
    createMiddleware<ApiEnv>(async (c, next) => {
      const started = performance.now();
      c.set('logger', deps.logger.child({ requestId: c.get('requestId') }));
      await next();
      const seconds = (performance.now() - started) / 1000;
      const route = routePath(c, -1) || 'unmatched';
      metrics.requestSeconds.observe({ method: c.req.method, route, status: String(c.res.status) }, seconds);
      c.get('logger').debug(
        {
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round(seconds * 10_000) / 10,
        },
        'request',
      );
    }),
  );

  // Browsers preflight without credentials: CORS for the web SDK's routes comes before authentication.
  app.use('/api/*', sdkCors(appKeys));
  // sendBeacon cannot send Authorization: the beacon route checks the app key in its body itself.
  if (deps.webTelemetry) {
    app.route(WEB_TELEMETRY_BEACON_PATH, webTelemetryBeaconRoutes(deps.db, deps.webTelemetry, appKeys));
  }
  const authenticated = authenticate(tokens, appKeys);
  // Public keys are public: devices and SDKs fetch them before they hold any credential.
  app.use('/api/*', (c, next) => (c.req.path === PUBLIC_KEYS_PATH ? next() : authenticated(c, next)));
  app.use('/api/*', appKeyGuard());
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new EdgeloopError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxSize} bytes`);
      },
    });
  const generalLimit = limit(deps.bodyLimit);
  const uploadLimit = limit(deps.models?.uploadLimit ?? DEFAULT_UPLOAD_LIMIT);
  app.use('/api/*', (c, next) => (c.req.path === IMPORT_PATH ? uploadLimit(c, next) : generalLimit(c, next)));
  app.use('/api/*', async (c, next) => {
    // Anything but JSON would be validated as an empty object by the JSON validator: refuse it.
    const hasBody = c.req.header('content-length') !== undefined && c.req.header('content-length') !== '0';
    const chunked = c.req.header('transfer-encoding') !== undefined;
    if ((hasBody || chunked) && !JSON_MEDIA.test(c.req.header('content-type') ?? '')) {
      throw new EdgeloopError('MALFORMED_JSON', 'request body must be JSON (Content-Type: application/json)');
    }
    await next();
  });

  app.route('/', healthRoutes(deps));
  app.route('/api/v1/devices', deviceRoutes(deps));
  app.route('/api/v1/devices', deviceTelemetryRoutes(deps));
  app.route('/api/v1/fleet', fleetRoutes(deps));
  app.route('/api/v1/drift', driftRoutes(deps));
  app.route('/api/v1/alerts', alertRoutes(deps));
  app.route('/api/v1/samples', sampleRoutes(deps));
  app.route('/api/v1', groupRoutes(deps));
  app.route('/api/v1/tokens', tokenRoutes(deps, tokens));
  app.route('/api/v1/broker', brokerRoutes(deps));
  app.route('/api/v1/app-keys', appKeyRoutes(appKeys));
  if (deps.models) {
    app.route(PUBLIC_KEYS_PATH, keyRoutes(deps.models));
    app.route('/api/v1/models', modelJobRoutes(deps.models));
    app.route('/api/v1/models', modelRoutes(deps.models));
    app.route('/api/v1/artifacts', artifactRoutes(deps.models, deps.db));
    app.route('/api/v1/jobs', jobRoutes(deps.models));
  }
  if (deps.rollouts) app.route('/api/v1/rollouts', rolloutRoutes(deps.rollouts));
  if (deps.retraining) app.route('/api/v1', retrainingRoutes(deps.retraining));
  if (deps.webTelemetry) app.route(WEB_TELEMETRY_PATH, webTelemetryRoutes(deps.db, deps.webTelemetry));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', BEARER_SCHEME);
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'edgeloop operator API',
      version: API_VERSION,
      description:
        'Devices, groups, tags and API tokens; models, their signed versions, artifacts and pipeline jobs of an edgeloop cloud.',
    },
  });
  app.get('/docs', (c) => c.html(docsPage('/openapi.json')));
  app.get('/api/v1/metrics', requireRole('viewer'), async (c) =>
    c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType }),
  );

  app.notFound((c) =>
    onError(new EdgeloopError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), c as Context<ApiEnv>),
  );
  app.onError((err, c) => onError(err, c));
  return app;
}

export type ApiApp = ReturnType<typeof createApiApp>;
