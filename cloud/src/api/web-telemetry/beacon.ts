// POST /api/v1/telemetry/beacon: the last windows of a page that is going away, sent with
// `navigator.sendBeacon`. A beacon cannot set an Authorization header and, cross-origin, is only sent
// without a preflight when its body is text/plain. So this route is mounted before bearer
// authentication: the body is JSON (as text/plain or application/json) carrying the app key, and the
// route applies the app-key rules itself: a valid, unrevoked key with `telemetry:write`, used from
// one of its allowed origins. Nothing but telemetry can be done this way.
import {
  EdgeloopError,
  WEB_TELEMETRY_BEACON_MAX_BYTES,
  webTelemetryAcceptedSchema,
  webTelemetryBeaconSchema,
} from '@edgeloop/shared';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type AppKeyStore, isAppKeyShaped } from '../app-keys/index.ts';
import { originAllowed } from '../app-keys/origins.ts';
import type { ApiDatabase, ApiEnv } from '../deps.ts';
import { validationError } from '../errors.ts';
import { errorResponses, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import { WebTelemetryIntake, type WebTelemetrySink } from './intake.ts';

const BEACON_MEDIA = /^(text\/plain|application\/json)\s*(;|$)/i;

const postBeacon = createRoute({
  tags: ['telemetry'],
  method: 'post',
  path: '/',
  summary: 'Telemetry windows sent with navigator.sendBeacon on page hide (app key in the body)',
  middleware: [
    bodyLimit({
      maxSize: WEB_TELEMETRY_BEACON_MAX_BYTES,
      onError: () => {
        throw new EdgeloopError(
          'PAYLOAD_TOO_LARGE',
          `beacon body exceeds ${WEB_TELEMETRY_BEACON_MAX_BYTES} bytes`,
        );
      },
    }),
  ] as const,
  request: {
    body: {
      required: true,
      description: 'JSON `{ appKey, windows }`, sent as text/plain so that no preflight is needed',
      content: { 'text/plain': { schema: webTelemetryBeaconSchema.meta({ id: 'WebTelemetryBeacon' }) } },
    },
  },
  responses: {
    202: jsonResponse(webTelemetryAcceptedSchema, 'Queued for the same ingestion as MQTT telemetry'),
    ...errorResponses(400, 401, 403, 413, 503),
  },
});

async function readBeacon(c: Context<ApiEnv>) {
  if (!BEACON_MEDIA.test(c.req.header('content-type') ?? '')) {
    throw new EdgeloopError('MALFORMED_JSON', 'a beacon body is JSON sent as text/plain or application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch (err) {
    throw new EdgeloopError('MALFORMED_JSON', 'beacon body is not valid JSON', { cause: err });
  }
  const parsed = webTelemetryBeaconSchema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, 'json');
  return parsed.data;
}

export function webTelemetryBeaconRoutes(db: ApiDatabase, sink: WebTelemetrySink, appKeys: AppKeyStore) {
  const intake = new WebTelemetryIntake(db, sink);
  return newRouter().openapi(postBeacon, async (c) => {
    const { appKey, windows } = await readBeacon(c);
    // Only app keys: an operator token has no business in a request body.
    if (!isAppKeyShaped(appKey)) throw new EdgeloopError('UNAUTHENTICATED', 'a beacon carries an app key');
    const { name, ...grant } = await appKeys.authenticate(appKey);
    if (!grant.scopes.includes('telemetry:write')) {
      throw new EdgeloopError('FORBIDDEN', 'this app key lacks the telemetry:write scope', {
        details: { reason: 'APP_KEY_SCOPE', needed: 'telemetry:write', held: grant.scopes },
      });
    }
    const origin = c.req.header('origin');
    if (
      origin !== undefined &&
      origin !== new URL(c.req.url).origin &&
      !originAllowed(grant.allowedOrigins, origin)
    ) {
      throw new EdgeloopError('FORBIDDEN', `origin ${origin} is not allowed for this app key`, {
        details: { reason: 'ORIGIN_NOT_ALLOWED', origin },
      });
    }
    c.set('principal', { tokenId: grant.id, name, role: 'viewer', appKey: grant });
    return c.json(await intake.accept(c, windows, name), 202);
  });
}
