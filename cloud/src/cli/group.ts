// `edgeloop group create|list|remove`: devices join existing groups only, so groups need a command.
import { z } from 'zod';
import { Group } from '../api/groups/routes.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, EXIT, stringValue } from './command.ts';
import { printJson, table, wantsJson } from './output.ts';

const create: CliCommand = {
  path: ['group', 'create'],
  summary: 'create a device group',
  args: '<name>',
  positionals: { min: 1, max: 1 },
  options: { description: { type: 'string', value: '<text>', help: 'what the group is' }, ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const description = stringValue(values, 'description');
    const group = await clientFrom(values, io).request('POST', '/api/v1/groups', Group, {
      name: positionals[0],
      ...(description ? { description } : {}),
    });
    if (wantsJson(values)) printJson(io, group);
    else io.out(`Created group ${group.name}.\n`);
    return EXIT.ok;
  },
};

const list: CliCommand = {
  path: ['group', 'list'],
  summary: 'list groups with their device counts',
  options: { ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const { items } = await clientFrom(values, io).request(
      'GET',
      '/api/v1/groups',
      z.object({ items: z.array(Group) }),
    );
    if (wantsJson(values)) printJson(io, { items });
    else
      io.out(
        table(
          ['NAME', 'DEVICES', 'DESCRIPTION'],
          items.map((g) => [g.name, g.deviceCount, g.description]),
        ),
      );
    return EXIT.ok;
  },
};

const remove: CliCommand = {
  path: ['group', 'remove'],
  summary: 'delete a group (its devices stay, ungrouped)',
  args: '<name>',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const name = positionals[0] as string;
    await clientFrom(values, io).request('DELETE', `/api/v1/groups/${encodeURIComponent(name)}`, null);
    if (wantsJson(values)) printJson(io, { deleted: name });
    else io.out(`Deleted group ${name}.\n`);
    return EXIT.ok;
  },
};

export const groupCommands: CliCommand[] = [create, list, remove];
