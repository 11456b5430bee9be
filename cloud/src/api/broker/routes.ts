// /api/v1/broker/mosquitto-files (admin): the password, ACL and config files an external Mosquitto
// needs, generated from the device registry. The password file carries only PBKDF2 hashes (the
// registry never held a secret in clear), but it is still the fleet's login list: admin only.
import { createRoute, z } from '@hono/zod-openapi';
import { mosquittoAclFile, mosquittoConf, mosquittoPasswordFile } from '../../mqtt/index.ts';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';

const port = z.coerce.number().int().min(1).max(65535);

const FilesQuery = z.strictObject({
  /** Where the files will live on the broker host: the config names them by absolute path. */
  dir: z
    .string()
    .regex(/^\/[^\s]*$/, 'dir must be an absolute path without spaces')
    .default('/etc/mosquitto/edgeloop'),
  port: port.default(1883),
  websocketPort: port.optional(),
  /** One account per cloud process (Mosquitto makes the username the client id). */
  cloudUsernames: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_,-]*$/, 'comma-separated usernames')
    .optional(),
});

export const MosquittoFiles = z
  .object({ passwd: z.string(), acl: z.string(), conf: z.string(), devices: z.number().int() })
  .meta({ id: 'MosquittoFiles' });

const getFiles = createRoute({
  tags: ['broker'],
  security: bearerSecurity,
  method: 'get',
  middleware: [requireRole('admin')] as const,
  path: '/mosquitto-files',
  summary: 'Mosquitto password, ACL and config files for an external broker (admin)',
  request: { query: FilesQuery },
  responses: { 200: jsonResponse(MosquittoFiles, 'The three files'), ...errorResponses(...AUTH_ERRORS) },
});

export function brokerRoutes(deps: Pick<ApiDeps, 'identity'>) {
  return newRouter().openapi(getFiles, async (c) => {
    const query = c.req.valid('query');
    const entries = await deps.identity.passwordEntries();
    const cloudUsernames = query.cloudUsernames?.split(',').filter(Boolean);
    const files = {
      passwd: mosquittoPasswordFile(entries),
      acl: mosquittoAclFile(cloudUsernames ? { cloudUsernames } : {}),
      conf: mosquittoConf({
        passwordFile: `${query.dir}/passwd`,
        aclFile: `${query.dir}/acl`,
        port: query.port,
        ...(query.websocketPort === undefined ? {} : { websocketPort: query.websocketPort }),
      }),
    };
    c.get('logger').info({ entries: entries.length }, 'mosquitto files exported');
    // The first entry is the cloud's own account.
    return c.json({ ...files, devices: Math.max(0, entries.length - 1) }, 200);
  });
}
