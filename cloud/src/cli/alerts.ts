// `edgeloop alerts [--all] [--kind <kind>] [--json]`: what the cloud's alert evaluator has open (or,
// with --all, also what it resolved), newest first.

import { ALERT_KINDS } from '../alerts/index.ts';
import { Alerts } from '../api/alerts/routes.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, EXIT, stringValue } from './command.ts';
import { ago, printJson, table, wantsJson } from './output.ts';

const list: CliCommand = {
  path: ['alerts'],
  summary: 'list open alerts (devices offline, error-rate spikes, stuck rollouts, drift)',
  options: {
    all: { type: 'boolean', help: 'resolved alerts too' },
    kind: { type: 'string', value: '<kind>', help: `only one kind: ${ALERT_KINDS.join(', ')}` },
    limit: { type: 'string', value: '<n>', help: 'most alerts shown (default 100)' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, io }) {
    const kind = stringValue(values, 'kind');
    if (kind !== undefined && !(ALERT_KINDS as readonly string[]).includes(kind)) {
      throw new CliUsageError(`--kind must be one of ${ALERT_KINDS.join(', ')}, got "${kind}"`);
    }
    const query = new URLSearchParams({
      state: values.all === true ? 'all' : 'open',
      ...(kind ? { kind } : {}),
      limit: stringValue(values, 'limit') ?? '100',
    });
    const { items } = await clientFrom(values, io).request('GET', `/api/v1/alerts?${query}`, Alerts);
    if (wantsJson(values)) {
      printJson(io, { items });
      return EXIT.ok;
    }
    if (items.length === 0) {
      io.out(values.all === true ? 'No alerts.\n' : 'No open alerts.\n');
      return EXIT.ok;
    }
    io.out(
      table(
        ['SEVERITY', 'KIND', 'OPENED', 'STATE', 'MESSAGE'],
        items.map((a) => [
          a.severity,
          a.kind,
          ago(a.openedAt),
          a.resolvedAt ? `resolved ${ago(a.resolvedAt)}` : 'open',
          a.message,
        ]),
      ),
    );
    return EXIT.ok;
  },
};

export const alertCommands: CliCommand[] = [list];
