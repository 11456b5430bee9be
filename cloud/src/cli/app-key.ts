// `edgeloop app-key create|list|revoke` (admin), over the operator API. App keys are what web and
// mobile apps embed to load models through the web SDK.
import { z } from 'zod';
import { APP_KEY_SCOPES, AppKey, CreatedAppKey } from '../api/app-keys/index.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, EXIT, stringList } from './command.ts';
import { printJson, table, wantsJson } from './output.ts';

const create: CliCommand = {
  path: ['app-key', 'create'],
  summary: 'create an app key for the web SDK (printed once)',
  args: '<name>',
  positionals: { min: 1, max: 1 },
  options: {
    origin: {
      type: 'string',
      multiple: true,
      value: '<origin>',
      help: 'a browser origin allowed to use the key, e.g. https://app.example.com, or * (repeatable; default: only pages the cloud serves)',
    },
    scope: {
      type: 'string',
      multiple: true,
      value: '<scope>',
      help: `${APP_KEY_SCOPES.join(' | ')} (repeatable; default: all)`,
    },
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const scopes = stringList(values, 'scope');
    const unknown = scopes.filter((s) => !(APP_KEY_SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0) {
      throw new CliUsageError(`unknown --scope ${unknown.join(', ')} (known: ${APP_KEY_SCOPES.join(', ')})`);
    }
    const origins = stringList(values, 'origin');
    const created = await clientFrom(values, io).request('POST', '/api/v1/app-keys', CreatedAppKey, {
      name: positionals[0],
      ...(origins.length > 0 ? { allowedOrigins: origins } : {}),
      ...(scopes.length > 0 ? { scopes } : {}),
    });
    if (wantsJson(values)) printJson(io, created);
    else {
      io.out(`${created.key}\n`);
      const where = created.record.allowedOrigins.join(', ') || 'the cloud’s own pages only';
      io.err(`App key ${created.record.id} created for ${where}. It is shown once: store it now.\n`);
    }
    return EXIT.ok;
  },
};

const list: CliCommand = {
  path: ['app-key', 'list'],
  summary: 'list app keys (never their secrets)',
  options: { ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const { items } = await clientFrom(values, io).request(
      'GET',
      '/api/v1/app-keys',
      z.object({ items: z.array(AppKey) }),
    );
    if (wantsJson(values)) printJson(io, { items });
    else {
      io.out(
        table(
          ['ID', 'NAME', 'STATE', 'ORIGINS', 'SCOPES', 'CREATED'],
          items.map((k) => [
            k.id,
            k.name,
            k.revokedAt ? 'revoked' : 'active',
            k.allowedOrigins.join(',') || '(same origin)',
            k.scopes.length === APP_KEY_SCOPES.length ? 'all' : k.scopes.join(','),
            k.createdAt,
          ]),
        ),
      );
    }
    return EXIT.ok;
  },
};

const revoke: CliCommand = {
  path: ['app-key', 'revoke'],
  summary: 'revoke an app key; apps using it are refused from the next request on',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const record = await clientFrom(values, io).request(
      'DELETE',
      `/api/v1/app-keys/${encodeURIComponent(positionals[0] as string)}`,
      AppKey,
    );
    if (wantsJson(values)) printJson(io, record);
    else io.out(`Revoked app key ${record.id} (${record.name}).\n`);
    return EXIT.ok;
  },
};

export const appKeyCommands: CliCommand[] = [create, list, revoke];
