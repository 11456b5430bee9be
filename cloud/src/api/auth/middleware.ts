// Bearer-token authentication and role checks. `authenticate` runs on every /api route; each route
// then names the least role it needs with `requireRole`, which is also what its OpenAPI entry says.
import { EdgeloopError } from '@edgeloop/shared';
import { createMiddleware } from 'hono/factory';
import { isAppKeyShaped } from '../app-keys/key-format.ts';
import type { AppKeyStore } from '../app-keys/store.ts';
import type { ApiEnv, Principal } from '../deps.ts';
import { type Role, roleAllows } from './roles.ts';
import type { ApiTokenStore } from './token-store.ts';

/** With `appKeys`, `app_…` keys are accepted too (and confined by app-keys' guard). */
export function authenticate(tokens: ApiTokenStore, appKeys?: AppKeyStore) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) {
      throw new EdgeloopError('UNAUTHENTICATED', 'missing Authorization: Bearer <token> header');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new EdgeloopError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"');
    const token = match[1] as string;
    let principal: Principal;
    if (appKeys && isAppKeyShaped(token)) {
      const { name, ...grant } = await appKeys.authenticate(token);
      principal = { tokenId: grant.id, name, role: 'viewer', appKey: grant };
    } else principal = await tokens.authenticate(token);
    c.set('principal', principal);
    c.set('logger', c.get('logger').child({ tokenId: principal.tokenId }));
    await next();
  });
}

export function requireRole(needed: Role) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const { role } = c.get('principal');
    if (!roleAllows(role, needed)) {
      throw new EdgeloopError('FORBIDDEN', `this needs the ${needed} role; the token has ${role}`, {
        details: { needed, held: role },
      });
    }
    await next();
  });
}
