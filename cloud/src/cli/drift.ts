// `edgeloop drift baseline list|set|remove`: the fleet slices judged against their own collected
// normal instead of their model version's validation profile. Retraining sets one by itself after a
// drift-triggered promotion; an operator sets one when a slice's changed inputs are simply how that
// site looks now (a new lens, a darker room) and should stop alarming.
import * as z from 'zod';
import { Baseline } from '../api/drift/routes.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, type CliValues, EXIT, stringValue } from './command.ts';
import { ago, printJson, table, wantsJson } from './output.ts';

const SLICE_OPTIONS = {
  model: { type: 'string', value: '<name>', help: 'the model' },
  version: { type: 'string', value: '<n>', help: 'the model version the slice runs' },
  scope: {
    type: 'string',
    value: '<name>',
    help: "the device class (or, with --group, the group; '' for none)",
  },
  group: { type: 'boolean', help: '--scope names a group, not a device class' },
} as const;

function sliceOf(values: CliValues) {
  const model = stringValue(values, 'model');
  const version = stringValue(values, 'version');
  const scope = stringValue(values, 'scope');
  if (!model || !version || scope === undefined) {
    throw new CliUsageError('--model, --version and --scope are required');
  }
  if (!/^[1-9]\d*$/.test(version))
    throw new CliUsageError(`--version must be a positive integer, got "${version}"`);
  return {
    model,
    version: Number(version),
    scopeKind: values.group === true ? ('group' as const) : ('device_class' as const),
    scope,
  };
}

function progress(b: z.infer<typeof Baseline>): string {
  return b.status === 'active'
    ? `active ${b.activatedAt ? ago(b.activatedAt) : ''} (${b.collectedSamples} samples)`
    : `collecting ${b.collectedSamples}/${b.targetSamples}`;
}

const list: CliCommand = {
  path: ['drift', 'baseline', 'list'],
  summary: 'list the slices judged against their own baseline, and collection progress',
  options: { model: { type: 'string', value: '<name>', help: 'only this model' }, ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const model = stringValue(values, 'model');
    const query = model ? `?${new URLSearchParams({ model })}` : '';
    const { baselines } = await clientFrom(values, io).request(
      'GET',
      `/api/v1/drift/baselines${query}`,
      z.object({ baselines: z.array(Baseline) }),
    );
    if (wantsJson(values)) {
      printJson(io, { baselines });
      return EXIT.ok;
    }
    if (baselines.length === 0) {
      io.out('No drift baselines: every slice is judged against its version’s reference profile.\n');
      return EXIT.ok;
    }
    io.out(
      table(
        ['MODEL', 'VERSION', 'SLICE', 'STATE', 'BY', 'REASON'],
        baselines.map((b) => [
          b.model,
          `v${b.version}`,
          `${b.scopeKind}:${b.scope}`,
          progress(b),
          b.requestedBy,
          b.reason,
        ]),
      ),
    );
    return EXIT.ok;
  },
};

const set: CliCommand = {
  path: ['drift', 'baseline', 'set'],
  summary: "accept a slice's current inputs as its new normal: its next inferences become its reference",
  options: {
    ...SLICE_OPTIONS,
    samples: {
      type: 'string',
      value: '<n>',
      help: 'inferences to collect first (default 500, at least 100)',
    },
    reason: { type: 'string', value: '<text>', help: 'why, for the record' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, io }) {
    const samples = stringValue(values, 'samples');
    if (samples !== undefined && !/^\d+$/.test(samples)) {
      throw new CliUsageError(`--samples must be a whole number, got "${samples}"`);
    }
    const reason = stringValue(values, 'reason');
    const baseline = await clientFrom(values, io).request('POST', '/api/v1/drift/baselines', Baseline, {
      ...sliceOf(values),
      ...(samples === undefined ? {} : { samples: Number(samples) }),
      ...(reason === undefined ? {} : { reason }),
    });
    if (wantsJson(values)) {
      printJson(io, baseline);
      return EXIT.ok;
    }
    io.out(
      `${baseline.model} v${baseline.version} on ${baseline.scopeKind} ${baseline.scope}: collecting ` +
        `${baseline.targetSamples} inferences; until then this slice is not judged. ` +
        'Follow it with `edgeloop drift baseline list`.\n',
    );
    return EXIT.ok;
  },
};

const remove: CliCommand = {
  path: ['drift', 'baseline', 'remove'],
  summary: "judge a slice against its version's reference profile again",
  options: { ...SLICE_OPTIONS, ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const slice = sliceOf(values);
    const query = new URLSearchParams({ ...slice, version: String(slice.version) });
    const removed = await clientFrom(values, io).request(
      'DELETE',
      `/api/v1/drift/baselines?${query}`,
      Baseline,
    );
    if (wantsJson(values)) {
      printJson(io, removed);
      return EXIT.ok;
    }
    io.out(
      `${removed.model} v${removed.version} on ${removed.scopeKind} ${removed.scope}: baseline removed.\n`,
    );
    return EXIT.ok;
  },
};

export const driftCommands: CliCommand[] = [list, set, remove];
