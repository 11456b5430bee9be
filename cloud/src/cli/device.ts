// `edgeloop device add|list|show|rotate|revoke|remove`, over the operator API.
import { z } from 'zod';
import { Credentials, DeviceDetail, DeviceList, ProvisionedDevice } from '../api/devices/schemas.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, EXIT, stringList, stringValue } from './command.ts';
import { ago, keyValues, printJson, table, wantsJson } from './output.ts';

type Detail = z.infer<typeof DeviceDetail>;

function credentialsBlock(c: z.infer<typeof Credentials>): string {
  return `${keyValues([
    ['username', c.username],
    ['password', c.password],
    ['broker', c.brokerUrls.tcp],
    ['broker (ws)', c.brokerUrls.ws],
  ])}The password is shown once; only a hash is stored. Rotate to get a new one.\n`;
}

function detailBlock(d: Detail): string {
  const model = d.activeModel
    ? `${d.activeModel.name} v${d.activeModel.version} (${d.activeModel.variant})`
    : null;
  return keyValues([
    ['id', d.id],
    ['name', d.displayName],
    ['class', d.deviceClass],
    ['group', d.group],
    ['tags', d.tags.join(', ')],
    ['status', d.status],
    ['last seen', d.lastSeenAt ? `${d.lastSeenAt} (${ago(d.lastSeenAt)})` : null],
    ['agent', d.agentVersion],
    ['active model', model],
    ['created', d.createdAt],
  ]);
}

const add: CliCommand = {
  path: ['device', 'add'],
  summary: 'provision a device and print its one-time MQTT credentials',
  args: '[<id>]',
  positionals: { min: 0, max: 1 },
  options: {
    class: {
      type: 'string',
      value: '<class>',
      help: 'device class (a firmware-configs profile id), required',
    },
    group: { type: 'string', value: '<group>', help: 'put it in this group (must exist)' },
    tag: { type: 'string', multiple: true, value: '<tag>', help: 'add a tag' },
    name: { type: 'string', value: '<text>', help: 'display name' },
    ...CLIENT_OPTIONS,
  },
  details: 'Without <id> the cloud assigns one (dev-xxxxxxxxxxxx).',
  async run({ values, positionals, io }) {
    const deviceClass = stringValue(values, 'class');
    if (!deviceClass) throw new CliUsageError('--class is required (e.g. --class simulated)');
    const body = {
      ...(positionals[0] ? { id: positionals[0] } : {}),
      deviceClass,
      ...(stringValue(values, 'group') ? { group: stringValue(values, 'group') } : {}),
      ...(stringList(values, 'tag').length ? { tags: stringList(values, 'tag') } : {}),
      ...(stringValue(values, 'name') ? { displayName: stringValue(values, 'name') } : {}),
    };
    const result = await clientFrom(values, io).request('POST', '/api/v1/devices', ProvisionedDevice, body);
    if (wantsJson(values)) printJson(io, result);
    else io.out(`Provisioned ${result.device.id}.\n${credentialsBlock(result.credentials)}`);
    return EXIT.ok;
  },
};

const list: CliCommand = {
  path: ['device', 'list'],
  summary: 'list devices, filtered',
  options: {
    group: { type: 'string', value: '<group>', help: 'only this group' },
    tag: { type: 'string', value: '<tag>', help: 'only devices with this tag' },
    class: { type: 'string', value: '<class>', help: 'only this device class' },
    status: { type: 'string', value: '<status>', help: 'online | offline | unknown' },
    limit: { type: 'string', value: '<n>', help: 'page size, 1-500 (100)' },
    cursor: { type: 'string', value: '<cursor>', help: 'continue from a previous page' },
    all: { type: 'boolean', help: 'follow every page' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, io }) {
    const client = clientFrom(values, io);
    const query = new URLSearchParams();
    for (const key of ['group', 'tag', 'class', 'status', 'limit', 'cursor']) {
      const value = stringValue(values, key);
      if (value !== undefined) query.set(key, value);
    }
    const items: z.infer<typeof DeviceList>['items'] = [];
    let page: z.infer<typeof DeviceList>;
    do {
      page = await client.request('GET', `/api/v1/devices?${query}`, DeviceList);
      items.push(...page.items);
      if (page.nextCursor) query.set('cursor', page.nextCursor);
    } while (values.all === true && page.nextCursor);
    const result = { items, total: page.total, nextCursor: values.all === true ? null : page.nextCursor };
    if (wantsJson(values)) {
      printJson(io, result);
      return EXIT.ok;
    }
    io.out(
      table(
        ['ID', 'CLASS', 'GROUP', 'STATUS', 'LAST SEEN', 'MODEL', 'TAGS'],
        items.map((d) => [
          d.id,
          d.deviceClass,
          d.group,
          d.status,
          ago(d.lastSeenAt),
          d.activeModel ? `${d.activeModel.name}@${d.activeModel.version}/${d.activeModel.variant}` : null,
          d.tags.join(','),
        ]),
      ),
    );
    const more = result.nextCursor ? ` — more: --cursor ${result.nextCursor} (or --all)` : '';
    io.out(`${items.length} of ${result.total} devices${more}\n`);
    return EXIT.ok;
  },
};

const idOnly = { args: '<id>', positionals: { min: 1, max: 1 } };

const show: CliCommand = {
  path: ['device', 'show'],
  summary: 'show a device: reported state, last seen, active model',
  ...idOnly,
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const device = await clientFrom(values, io).request(
      'GET',
      `/api/v1/devices/${encodeURIComponent(positionals[0] as string)}`,
      DeviceDetail,
    );
    if (wantsJson(values)) printJson(io, device);
    else
      io.out(
        `${detailBlock(device)}${device.reported ? `reported:\n${JSON.stringify(device.reported, null, 2)}\n` : ''}`,
      );
    return EXIT.ok;
  },
};

const rotate: CliCommand = {
  path: ['device', 'rotate'],
  summary: 'issue new MQTT credentials; the old ones stop working at once',
  ...idOnly,
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const id = encodeURIComponent(positionals[0] as string);
    const credentials = await clientFrom(values, io).request(
      'POST',
      `/api/v1/devices/${id}/credentials/rotate`,
      Credentials,
    );
    if (wantsJson(values)) printJson(io, credentials);
    else io.out(`Rotated ${credentials.deviceId}.\n${credentialsBlock(credentials)}`);
    return EXIT.ok;
  },
};

const revoke: CliCommand = {
  path: ['device', 'revoke'],
  summary: 'revoke the MQTT credentials; the device is disconnected and cannot log in',
  ...idOnly,
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const result = await clientFrom(values, io).request(
      'POST',
      `/api/v1/devices/${encodeURIComponent(id)}/credentials/revoke`,
      z.object({ deviceId: z.string(), revoked: z.literal(true) }),
    );
    if (wantsJson(values)) printJson(io, result);
    else io.out(`Revoked the credentials of ${id}. \`edgeloop device rotate ${id}\` issues new ones.\n`);
    return EXIT.ok;
  },
};

const remove: CliCommand = {
  path: ['device', 'remove'],
  summary: 'delete a device and its credentials',
  ...idOnly,
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    await clientFrom(values, io).request('DELETE', `/api/v1/devices/${encodeURIComponent(id)}`, null);
    if (wantsJson(values)) printJson(io, { deleted: id });
    else io.out(`Deleted ${id}.\n`);
    return EXIT.ok;
  },
};

export const deviceCommands: CliCommand[] = [add, list, show, rotate, revoke, remove];
