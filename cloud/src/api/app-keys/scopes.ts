// What an app key may do, and which routes each scope opens. An app key ships inside a web page, so
// anyone can copy it: it gets exactly the routes the web SDK calls and nothing of the operator API.
// The list is an allow-list keyed by method and path, so a route added later is closed to app keys
// until someone names it here.
import { z } from 'zod';

export const APP_KEY_SCOPES = ['models:resolve', 'artifacts:read', 'keys:read', 'telemetry:write'] as const;
export const appKeyScopeSchema = z.enum(APP_KEY_SCOPES);
export type AppKeyScope = z.infer<typeof appKeyScopeSchema>;

/** What an authenticated app key carries through a request (the principal's `appKey`). */
export interface AppKeyGrant {
  id: string;
  scopes: readonly AppKeyScope[];
  allowedOrigins: readonly string[];
}

/** The web SDK's telemetry route (batched windows over HTTP, the browser's MQTT). */
export const WEB_TELEMETRY_PATH = '/api/v1/telemetry';

const SDK_ROUTES: { methods: readonly string[]; path: RegExp; scope: AppKeyScope }[] = [
  { methods: ['GET', 'HEAD'], path: /^\/api\/v1\/models\/[^/]+\/resolve$/, scope: 'models:resolve' },
  { methods: ['GET', 'HEAD'], path: /^\/api\/v1\/artifacts\/[^/]+$/, scope: 'artifacts:read' },
  { methods: ['GET', 'HEAD'], path: /^\/api\/v1\/keys$/, scope: 'keys:read' },
  { methods: ['POST'], path: /^\/api\/v1\/telemetry$/, scope: 'telemetry:write' },
];

/** The scope a request needs when it comes with an app key; undefined = app keys are refused. */
export function sdkRouteScope(method: string, path: string): AppKeyScope | undefined {
  const upper = method.toUpperCase();
  return SDK_ROUTES.find((r) => r.methods.includes(upper) && r.path.test(path))?.scope;
}

/** Methods a browser may preflight for an SDK path (for Access-Control-Allow-Methods). */
export function sdkRouteMethods(path: string): string[] {
  return SDK_ROUTES.filter((r) => r.path.test(path)).flatMap((r) => r.methods);
}
