// `edgeloop token create|list|revoke` (admin), over the operator API.
import { z } from 'zod';
import { ROLES, roleSchema } from '../api/auth/roles.ts';
import { ApiToken, IssuedToken } from '../api/tokens/routes.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, EXIT, stringValue } from './command.ts';
import { ago, printJson, table, wantsJson } from './output.ts';

const create: CliCommand = {
  path: ['token', 'create'],
  summary: 'issue an API token (printed once)',
  args: '<name>',
  positionals: { min: 1, max: 1 },
  options: {
    role: { type: 'string', value: '<role>', help: `${ROLES.join(' | ')} (viewer)` },
    'expires-in-days': { type: 'string', value: '<days>', help: 'lifetime in days (never expires)' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const role = roleSchema.safeParse(stringValue(values, 'role') ?? 'viewer');
    if (!role.success) throw new CliUsageError(`--role must be one of ${ROLES.join(', ')}`);
    const days = stringValue(values, 'expires-in-days');
    if (days !== undefined && !/^[1-9][0-9]{0,3}$/.test(days)) {
      throw new CliUsageError('--expires-in-days must be a whole number of days, 1-3650');
    }
    const issued = await clientFrom(values, io).request('POST', '/api/v1/tokens', IssuedToken, {
      name: positionals[0],
      role: role.data,
      ...(days ? { expiresInDays: Number(days) } : {}),
    });
    if (wantsJson(values)) printJson(io, issued);
    else {
      io.out(`${issued.token}\n`);
      io.err(`Token ${issued.record.id} (${issued.record.role}) created. It is shown once: store it now.\n`);
    }
    return EXIT.ok;
  },
};

const list: CliCommand = {
  path: ['token', 'list'],
  summary: 'list API tokens (never their secrets)',
  options: { ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const { items } = await clientFrom(values, io).request(
      'GET',
      '/api/v1/tokens',
      z.object({ items: z.array(ApiToken) }),
    );
    if (wantsJson(values)) printJson(io, { items });
    else {
      io.out(
        table(
          ['ID', 'NAME', 'ROLE', 'STATE', 'LAST USED', 'EXPIRES'],
          items.map((t) => [
            t.id,
            t.name,
            t.role,
            t.revokedAt
              ? 'revoked'
              : t.expiresAt && new Date(t.expiresAt) < new Date()
                ? 'expired'
                : 'active',
            ago(t.lastUsedAt),
            t.expiresAt,
          ]),
        ),
      );
    }
    return EXIT.ok;
  },
};

const revoke: CliCommand = {
  path: ['token', 'revoke'],
  summary: 'revoke an API token; it is refused from the next request on',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const record = await clientFrom(values, io).request(
      'DELETE',
      `/api/v1/tokens/${encodeURIComponent(positionals[0] as string)}`,
      ApiToken,
    );
    if (wantsJson(values)) printJson(io, record);
    else io.out(`Revoked token ${record.id} (${record.name}).\n`);
    return EXIT.ok;
  },
};

export const tokenCommands: CliCommand[] = [create, list, revoke];
