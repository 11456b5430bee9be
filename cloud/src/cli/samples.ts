// `edgeloop samples list|show|label|stats`, over the operator API: look at what devices sent for
// retraining, and label it (correct, or confirm the prediction).
import { writeFile } from 'node:fs/promises';
import type { z } from 'zod';
import { SampleDetail, SampleList, SampleStats } from '../api/samples/schemas.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, EXIT, stringValue } from './command.ts';
import { ago, keyValues, printJson, table, wantsJson } from './output.ts';

type Detail = z.infer<typeof SampleDetail>;

const samplePath = (id: string) => {
  if (!/^[1-9][0-9]{0,15}$/.test(id))
    throw new CliUsageError(`sample id must be a positive integer, got "${id}"`);
  return `/api/v1/samples/${id}`;
};

function className(classes: string[] | null, index: number | null): string | null {
  if (index === null) return null;
  const name = classes?.[index];
  return name === undefined ? String(index) : `${index} (${name})`;
}

function detailBlock(s: Detail): string {
  return keyValues([
    ['id', s.id],
    ['device', s.device],
    ['sample', s.sampleId],
    ['model', `${s.model} v${s.version}${s.variant ? ` (${s.variant})` : ''}`],
    ['captured', `${s.capturedAt} (${ago(s.capturedAt)})`],
    ['window', s.windowSeq],
    ['reason', s.reason],
    ['prediction', `${className(s.classes, s.prediction)} at ${s.confidence.toFixed(3)}`],
    ['label', className(s.classes, s.label)],
    ['label source', s.labelSource],
    ['labelled by', s.labelledBy ? `${s.labelledBy} at ${s.labelledAt}` : null],
    ['tensor', `float32 [${s.tensor.shape.join(', ')}]`],
    ['classes', s.classes?.map((c, i) => `${i}=${c}`).join(' ') ?? 'unknown (version not in the registry)'],
  ]);
}

const list: CliCommand = {
  path: ['samples', 'list'],
  summary: 'list retraining samples devices sent, newest first',
  options: {
    model: { type: 'string', value: '<name>', help: 'only this model' },
    version: { type: 'string', value: '<n>', help: 'only this model version' },
    device: { type: 'string', value: '<id>', help: 'only this device' },
    labelled: { type: 'boolean', help: 'only labelled samples' },
    unlabelled: { type: 'boolean', help: 'only samples still waiting for a label' },
    limit: { type: 'string', value: '<n>', help: 'page size, 1-500 (50)' },
    before: { type: 'string', value: '<id>', help: 'continue below this id (a previous page)' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, io }) {
    if (values.labelled === true && values.unlabelled === true) {
      throw new CliUsageError('--labelled and --unlabelled exclude each other');
    }
    const query = new URLSearchParams();
    for (const key of ['model', 'version', 'device', 'limit', 'before']) {
      const value = stringValue(values, key);
      if (value !== undefined) query.set(key, value);
    }
    if (values.labelled === true) query.set('labelled', 'true');
    if (values.unlabelled === true) query.set('labelled', 'false');
    const page = await clientFrom(values, io).request('GET', `/api/v1/samples?${query}`, SampleList);
    if (wantsJson(values)) {
      printJson(io, page);
      return EXIT.ok;
    }
    io.out(
      table(
        ['ID', 'DEVICE', 'MODEL', 'REASON', 'PREDICTED', 'CONF', 'LABEL', 'SOURCE', 'CAPTURED'],
        page.items.map((s) => [
          s.id,
          s.device,
          `${s.model}@${s.version}`,
          s.reason,
          s.prediction,
          s.confidence.toFixed(2),
          s.label,
          s.labelSource,
          ago(s.capturedAt),
        ]),
      ),
    );
    const more = page.nextBefore === null ? '' : ` — more: --before ${page.nextBefore}`;
    io.out(`${page.items.length} samples${more}\n`);
    return EXIT.ok;
  },
};

const show: CliCommand = {
  path: ['samples', 'show'],
  summary: "show a sample: prediction, label, tensor shape, the model's classes",
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: {
    png: { type: 'string', value: '<file>', help: 'also save the image preview (1- or 3-channel tensors)' },
    scale: { type: 'string', value: '<n>', help: 'enlarge the preview n times, 1-16 (8)' },
    ...CLIENT_OPTIONS,
  },
  details: '--json includes the tensor (base64 float32 little-endian).',
  async run({ values, positionals, io }) {
    const client = clientFrom(values, io);
    const path = samplePath(positionals[0] as string);
    const sample = await client.request('GET', path, SampleDetail);
    const png = stringValue(values, 'png');
    if (png) {
      const res = await client.open('GET', `${path}/image.png?scale=${stringValue(values, 'scale') ?? '8'}`, {
        accept: 'image/png',
      });
      await writeFile(png, new Uint8Array(await res.arrayBuffer()));
    }
    if (wantsJson(values)) printJson(io, sample);
    else io.out(`${detailBlock(sample)}${png ? `Preview written to ${png}.\n` : ''}`);
    return EXIT.ok;
  },
};

const label: CliCommand = {
  path: ['samples', 'label'],
  summary: 'label a sample (operator): a class index or name, or --confirm the prediction',
  args: '<id> [<class>]',
  positionals: { min: 1, max: 2 },
  options: {
    confirm: { type: 'boolean', help: 'the prediction is right: take it as the label' },
    ...CLIENT_OPTIONS,
  },
  details:
    "A class name is looked up in the model version's classes (`edgeloop samples show <id>` lists them).",
  async run({ values, positionals, io }) {
    const client = clientFrom(values, io);
    const path = samplePath(positionals[0] as string);
    const given = positionals[1];
    if ((given === undefined) === (values.confirm !== true)) {
      throw new CliUsageError('give either a class (index or name) or --confirm');
    }
    let body: { label: number } | { confirm: true } = { confirm: true };
    if (given !== undefined) {
      if (/^\d+$/.test(given)) body = { label: Number(given) };
      else {
        const { classes } = await client.request('GET', path, SampleDetail);
        const index = classes?.indexOf(given) ?? -1;
        if (index < 0) {
          throw new CliUsageError(
            classes
              ? `"${given}" is not a class of this sample's model: ${classes.join(', ')}`
              : `"${given}" is not a number, and this sample's model version is not in the registry`,
          );
        }
        body = { label: index };
      }
    }
    const sample = await client.request('POST', `${path}/label`, SampleDetail, body);
    if (wantsJson(values)) printJson(io, sample);
    else
      io.out(
        `Sample ${sample.id} labelled ${className(sample.classes, sample.label)} by ${sample.labelledBy}.\n`,
      );
    return EXIT.ok;
  },
};

const stats: CliCommand = {
  path: ['samples', 'stats'],
  summary: 'labelled and unlabelled samples per model version, labels by source',
  options: { model: { type: 'string', value: '<name>', help: 'only this model' }, ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const model = stringValue(values, 'model');
    const query = model ? `?${new URLSearchParams({ model })}` : '';
    const result = await clientFrom(values, io).request('GET', `/api/v1/samples/stats${query}`, SampleStats);
    if (wantsJson(values)) {
      printJson(io, result);
      return EXIT.ok;
    }
    io.out(
      table(
        ['MODEL', 'VERSION', 'TOTAL', 'LABELLED', 'UNLABELLED', 'BY DEVICE', 'BY OPERATOR'],
        result.versions.map((v) => [
          v.model,
          v.version,
          v.total,
          v.labelled,
          v.unlabelled,
          v.labelledBy.device,
          v.labelledBy.operator,
        ]),
      ),
    );
    return EXIT.ok;
  },
};

export const sampleCommands: CliCommand[] = [list, show, label, stats];
