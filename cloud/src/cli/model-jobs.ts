// `edgeloop model train|import|quantize|eval|watch`: the long model operations. Each starts a job on
// the cloud and, with --wait, follows it with a progress bar until it ends; `watch` follows any job.
// Datasets are named as the cloud reads them: `mnist`, or a folder path on the cloud's host.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { JobAccepted, JobView } from '../api/models/schemas.ts';
import type { DatasetRef } from '../pipeline/index.ts';
import { type ApiClient, CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import {
  type CliCommand,
  type CliIO,
  CliUsageError,
  type CliValues,
  EXIT,
  stringList,
  stringValue,
} from './command.ts';
import { kib, percent, positiveInt } from './model.ts';
import { followJob, type JobState, jobFailure, ProgressLine } from './model-progress.ts';
import { printJson, wantsJson } from './output.ts';

const WAIT = { wait: { type: 'boolean' as const, help: 'follow the job with a progress bar until it ends' } };
const SHAPE_OPTIONS = {
  size: { type: 'string' as const, value: '<HxW>', help: 'image size for a folder dataset (28x28)' },
  channels: {
    type: 'string' as const,
    value: '<1|3>',
    help: 'greyscale (1, default) or RGB (3) for a folder dataset',
  },
};

/** `mnist`, or a folder (resolved here: the quick start's cloud runs on this host). */
export function datasetArg(value: string, values: CliValues): DatasetRef {
  if (value === 'mnist') return { kind: 'mnist' };
  const size = stringValue(values, 'size') ?? '28x28';
  const match = /^(\d+)x(\d+)$/.exec(size);
  if (!match) throw new CliUsageError(`--size must look like 28x28, got "${size}"`);
  const channels = stringValue(values, 'channels') ?? '1';
  if (channels !== '1' && channels !== '3')
    throw new CliUsageError(`--channels must be 1 or 3, got "${channels}"`);
  return {
    kind: 'image-folder',
    path: resolve(value),
    height: Number(match[1]),
    width: Number(match[2]),
    channels: channels === '3' ? 3 : 1,
  };
}

/** JSON given inline, or the path of a JSON file. */
function jsonArg(value: string, flag: string): unknown {
  const text = value.trim().startsWith('{') || value.trim().startsWith('[') ? value : readIfFile(value, flag);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliUsageError(`${flag}: not valid JSON (${(err as Error).message})`);
  }
}

function readIfFile(path: string, flag: string): string {
  if (!existsSync(path)) throw new CliUsageError(`${flag}: "${path}" is neither JSON nor a file`);
  return readFileSync(path, 'utf8');
}

/** `a,b,c`, or a file with one class per line (or a JSON array). */
function classesArg(value: string): string[] {
  const text = existsSync(value) ? readFileSync(value, 'utf8') : value;
  if (text.trim().startsWith('[')) return z.array(z.string()).parse(JSON.parse(text));
  return text
    .split(existsSync(value) ? /\r?\n/ : ',')
    .map((c) => c.trim())
    .filter(Boolean);
}

function summarize(job: JobState): string {
  const result = job.result as {
    version?: number;
    aliases?: string[];
    variants?: { variant: string; size?: number; sha256: string; accuracy: number | null }[];
    champion?: {
      championVersion: number | null;
      variants?: Record<string, { top1DeltaPoints: number; agreement: number }>;
    };
  } | null;
  if (job.kind === 'evaluate') {
    const r = job.result as {
      version: number;
      variants: Record<string, { accuracy: number; bytes: number }>;
    };
    const parts = Object.entries(r.variants).map(([k, v]) => `${k} ${percent(v.accuracy)} (${kib(v.bytes)})`);
    return `Evaluated ${job.model} v${r.version}: ${parts.join(', ')}. Details: edgeloop model show ${job.model} ${r.version}\n`;
  }
  const variants = (result?.variants ?? [])
    .map((v) => `${v.variant} ${percent(v.accuracy) ?? 'not evaluated'}${v.size ? ` ${kib(v.size)}` : ''}`)
    .join(', ');
  const aliases = result?.aliases?.length ? ` as ${result.aliases.join(', ')}` : '';
  const champion = result?.champion?.championVersion
    ? Object.entries(result.champion.variants ?? {})
        .map(
          ([k, c]) =>
            `\n  against champion v${result.champion?.championVersion} (${k}): top-1 ${c.top1DeltaPoints >= 0 ? '+' : ''}${c.top1DeltaPoints.toFixed(2)} points, agreement ${percent(c.agreement)}`,
        )
        .join('')
    : '';
  return `Registered ${job.model} v${result?.version}${aliases}: ${variants}.${champion}\nDetails: edgeloop model show ${job.model} ${result?.version}\n`;
}

/** Prints a started job, or follows it to its end with --wait (a failed job exits 1). */
async function afterStart(client: ApiClient, io: CliIO, values: CliValues, job: JobState): Promise<number> {
  if (values.wait !== true) {
    if (wantsJson(values)) printJson(io, job);
    else
      io.out(`Started job ${job.id} (${job.kind} ${job.model}). Follow it: edgeloop model watch ${job.id}\n`);
    return EXIT.ok;
  }
  const final = await followJob(client, io, job, `${job.kind} ${job.model}`);
  if (wantsJson(values)) printJson(io, final);
  if (final.status !== 'succeeded') throw jobFailure(final);
  if (!wantsJson(values)) io.out(summarize(final));
  return EXIT.ok;
}

const train: CliCommand = {
  path: ['model', 'train'],
  summary: 'train a new model version (dataset → train → quantize → evaluate → register)',
  options: {
    name: { type: 'string', value: '<model>', help: 'model name (digits)' },
    dataset: {
      type: 'string',
      value: '<mnist|folder>',
      help: 'mnist (default) or a folder of class-named subfolders',
    },
    ...SHAPE_OPTIONS,
    epochs: { type: 'string', value: '<n>', help: 'training epochs (trainer default 5)' },
    hyperparameters: {
      type: 'string',
      value: '<json|file>',
      help: 'trainer settings as JSON, e.g. {"batchSize":64}',
    },
    'trainer-command': {
      type: 'string',
      value: '<command>',
      help: 'an external trainer (admin): words split on spaces, or a JSON array; {dataset} {out} {hyperparameters} are filled in',
    },
    parent: { type: 'string', value: '<version>', help: 'the version this one retrains' },
    alias: {
      type: 'string',
      multiple: true,
      value: '<alias>',
      help: 'alias for the new version (default champion first, then challenger)',
    },
    ...WAIT,
    ...CLIENT_OPTIONS,
  },
  async run({ values, io }) {
    const name = stringValue(values, 'name') ?? 'digits';
    const hyperparameters = {
      ...(stringValue(values, 'hyperparameters')
        ? (jsonArg(stringValue(values, 'hyperparameters')!, '--hyperparameters') as object)
        : {}),
      ...(stringValue(values, 'epochs')
        ? { epochs: positiveInt(stringValue(values, 'epochs'), '--epochs') }
        : {}),
    };
    const command = stringValue(values, 'trainer-command');
    const body = {
      dataset: datasetArg(stringValue(values, 'dataset') ?? 'mnist', values),
      hyperparameters,
      ...(command
        ? {
            trainer: {
              kind: 'external-command',
              command: command.trim().startsWith('[')
                ? z.array(z.string()).parse(JSON.parse(command))
                : command.trim().split(/\s+/),
            },
          }
        : {}),
      ...(stringValue(values, 'parent')
        ? { parentVersion: positiveInt(stringValue(values, 'parent'), '--parent') }
        : {}),
      ...(stringList(values, 'alias').length ? { aliases: stringList(values, 'alias') } : {}),
    };
    const client = clientFrom(values, io);
    const { job } = await client.request(
      'POST',
      `/api/v1/models/${encodeURIComponent(name)}/train`,
      JobAccepted,
      body,
    );
    return afterStart(client, io, values, job);
  },
};

/** Streams a JSON body in pieces, drawing how much has gone out. */
function uploadStream(bytes: Uint8Array, bar: ProgressLine): ReadableStream<Uint8Array> {
  const piece = 256 * 1024;
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes.length) {
        controller.close();
        return;
      }
      const next = bytes.subarray(sent, Math.min(bytes.length, sent + piece));
      sent += next.length;
      controller.enqueue(next);
      bar.update('uploading', sent / bytes.length, `${kib(sent)} of ${kib(bytes.length)}`);
    },
  });
}

const importCommand: CliCommand = {
  path: ['model', 'import'],
  summary: 'import an ONNX model: validate, quantize on calibration images, evaluate, register',
  args: '<file.onnx>',
  positionals: { min: 1, max: 1 },
  options: {
    name: { type: 'string', value: '<model>', help: 'model name, required' },
    preprocessing: {
      type: 'string',
      value: '<json|file>',
      help: 'how images become the input tensor, e.g. {"layout":"NCHW","channels":1,"height":28,"width":28}',
    },
    classes: { type: 'string', value: '<a,b,c|file>', help: 'class names by output index, required' },
    calibration: {
      type: 'string',
      value: '<mnist|folder>',
      help: 'calibration (and, when labelled alike, evaluation) images; default mnist',
    },
    ...SHAPE_OPTIONS,
    'output-role': {
      type: 'string',
      multiple: true,
      value: '<output=role>',
      help: 'role of an output: logits, probabilities, embedding, other',
    },
    alias: { type: 'string', multiple: true, value: '<alias>', help: 'alias for the new version' },
    ...WAIT,
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const name = stringValue(values, 'name');
    if (!name) throw new CliUsageError('--name is required');
    const preprocessing = stringValue(values, 'preprocessing');
    if (!preprocessing) throw new CliUsageError('--preprocessing is required (JSON or a JSON file)');
    const classes = stringValue(values, 'classes');
    if (!classes) throw new CliUsageError('--classes is required (a,b,c or a file)');
    const file = positionals[0] as string;
    const bytes = await readFile(file).catch((err: Error) => {
      throw new CliUsageError(`cannot read ${file}: ${err.message}`);
    });
    const outputRoles = Object.fromEntries(
      stringList(values, 'output-role').map((pair) => {
        const [output, role] = pair.split('=');
        if (!output || !role) throw new CliUsageError(`--output-role must be <output>=<role>, got "${pair}"`);
        return [output, role];
      }),
    );
    const body = new TextEncoder().encode(
      JSON.stringify({
        name,
        onnx: Buffer.from(bytes).toString('base64'),
        classes: classesArg(classes),
        preprocessing: jsonArg(preprocessing, '--preprocessing'),
        calibration: datasetArg(stringValue(values, 'calibration') ?? 'mnist', values),
        ...(Object.keys(outputRoles).length ? { outputRoles } : {}),
        ...(stringList(values, 'alias').length ? { aliases: stringList(values, 'alias') } : {}),
      }),
    );
    const client = clientFrom(values, io);
    const bar = new ProgressLine(io, `upload ${name}`);
    const res = await client
      .open('POST', '/api/v1/models/import', { body: uploadStream(body, bar) })
      .finally(() => bar.finish());
    const { job } = JobAccepted.parse(await res.json());
    return afterStart(client, io, values, job);
  },
};

const quantize: CliCommand = {
  path: ['model', 'quantize'],
  summary: 'quantize a version again (registered as a new version)',
  args: '<name> <version>',
  positionals: { min: 2, max: 2 },
  options: {
    calibration: {
      type: 'string',
      value: '<mnist|folder>',
      help: 'calibration images (default: the dataset it was trained on)',
    },
    ...SHAPE_OPTIONS,
    alias: { type: 'string', multiple: true, value: '<alias>', help: 'alias for the new version' },
    ...WAIT,
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const [name, version] = positionals as [string, string];
    const calibration = stringValue(values, 'calibration');
    const client = clientFrom(values, io);
    const { job } = await client.request(
      'POST',
      `/api/v1/models/${encodeURIComponent(name)}/versions/${positiveInt(version, '<version>')}/quantize`,
      JobAccepted,
      {
        ...(calibration ? { calibration: datasetArg(calibration, values) } : {}),
        ...(stringList(values, 'alias').length ? { aliases: stringList(values, 'alias') } : {}),
      },
    );
    return afterStart(client, io, values, job);
  },
};

const evaluate: CliCommand = {
  path: ['model', 'eval'],
  summary: 'evaluate a version (accuracy, per-class, confusion, latency, size) and compare with the champion',
  args: '<name> <version>',
  positionals: { min: 2, max: 2 },
  options: {
    dataset: {
      type: 'string',
      value: '<mnist|folder>',
      help: 'test data (default: the dataset it was trained on)',
    },
    ...SHAPE_OPTIONS,
    ...WAIT,
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const [name, version] = positionals as [string, string];
    const dataset = stringValue(values, 'dataset');
    const client = clientFrom(values, io);
    const { job } = await client.request(
      'POST',
      `/api/v1/models/${encodeURIComponent(name)}/versions/${positiveInt(version, '<version>')}/evaluate`,
      JobAccepted,
      dataset ? { dataset: datasetArg(dataset, values) } : {},
    );
    return afterStart(client, io, values, job);
  },
};

const watch: CliCommand = {
  path: ['model', 'watch'],
  summary: 'follow a pipeline job with a progress bar until it ends',
  args: '<job-id>',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const client = clientFrom(values, io);
    const job = await client.request(
      'GET',
      `/api/v1/jobs/${encodeURIComponent(positionals[0] as string)}`,
      JobView,
    );
    return afterStart(client, io, { ...values, wait: true }, job);
  },
};

export const modelJobCommands: CliCommand[] = [train, importCommand, quantize, evaluate, watch];
