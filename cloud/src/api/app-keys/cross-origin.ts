// CORS for the web SDK's routes and the app-key guard that keeps app keys on those routes. Two
// middlewares because they run at different points: the CORS layer before authentication (a
// preflight carries no credentials, so it is answered from the union of active keys' origins), the
// guard after it (the key is known, so its own scopes and origins decide).
import { EdgeloopError } from '@edgeloop/shared';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { ApiEnv, Principal } from '../deps.ts';
import { originAllowed } from './origins.ts';
import { sdkRouteMethods, sdkRouteScope } from './scopes.ts';
import type { AppKeyStore } from './store.ts';

/** The request's Origin when it differs from the cloud's own (the demo page calls same-origin). */
function crossOrigin(c: Context<ApiEnv>): string | undefined {
  const origin = c.req.header('origin');
  if (origin === undefined || origin === new URL(c.req.url).origin) return undefined;
  return origin;
}

function originRefused(origin: string): EdgeloopError {
  return new EdgeloopError('FORBIDDEN', `origin ${origin} is not allowed by any app key`, {
    details: { reason: 'ORIGIN_NOT_ALLOWED', origin },
  });
}

function grantOf(c: Context<ApiEnv>) {
  return (c.get('principal') as Principal | undefined)?.appKey;
}

const EXPOSED = 'Content-Length, ETag, X-Request-Id';

/**
 * Answers preflights for SDK routes from allowed origins and adds CORS headers to their responses.
 * A disallowed origin gets a 403 and no CORS headers, so its page cannot read anything. Other
 * routes never get CORS headers: the operator API is not for foreign pages.
 */
export function sdkCors(store: AppKeyStore) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const origin = crossOrigin(c);
    if (origin === undefined) return next();
    const preflight = c.req.method === 'OPTIONS' ? c.req.header('access-control-request-method') : undefined;
    const methods = sdkRouteMethods(c.req.path);
    if (methods.length === 0) {
      if (preflight !== undefined) {
        throw new EdgeloopError('FORBIDDEN', `${c.req.path} does not answer cross-origin requests`, {
          details: { reason: 'NOT_AN_SDK_ROUTE' },
        });
      }
      return next();
    }
    if (!(await store.anyKeyAllows(origin))) throw originRefused(origin);
    if (preflight !== undefined) {
      if (!methods.includes(preflight.toUpperCase())) {
        throw new EdgeloopError('FORBIDDEN', `${preflight} is not allowed on ${c.req.path}`, {
          details: { reason: 'METHOD_NOT_ALLOWED', allowed: methods },
        });
      }
      return c.body(null, 204, {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': methods.join(', '),
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Max-Age': '600',
        Vary: 'Origin',
      });
    }
    await next();
    // The key's own list decides once the key is known (the guard has refused a mismatch already;
    // its 403 stays unreadable to the page, like any other disallowed origin's).
    const grant = grantOf(c);
    if (grant && !originAllowed(grant.allowedOrigins, origin)) return;
    c.res.headers.set('Access-Control-Allow-Origin', origin);
    c.res.headers.set('Access-Control-Expose-Headers', EXPOSED);
    c.res.headers.append('Vary', 'Origin');
  });
}

/**
 * After authentication: an app key passes only on the SDK routes its scopes name, and only from
 * its allowed origins. Operator tokens are not affected.
 */
export function appKeyGuard() {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const grant = grantOf(c);
    if (grant) {
      const scope = sdkRouteScope(c.req.method, c.req.path);
      if (scope === undefined) {
        throw new EdgeloopError('FORBIDDEN', 'app keys may only call the web SDK routes', {
          details: { reason: 'APP_KEY_ROUTE', method: c.req.method, path: c.req.path },
        });
      }
      if (!grant.scopes.includes(scope)) {
        throw new EdgeloopError('FORBIDDEN', `this app key lacks the ${scope} scope`, {
          details: { reason: 'APP_KEY_SCOPE', needed: scope, held: grant.scopes },
        });
      }
      const origin = crossOrigin(c);
      if (origin !== undefined && !originAllowed(grant.allowedOrigins, origin)) {
        throw new EdgeloopError('FORBIDDEN', `origin ${origin} is not allowed for this app key`, {
          details: { reason: 'ORIGIN_NOT_ALLOWED', origin },
        });
      }
    }
    await next();
  });
}
