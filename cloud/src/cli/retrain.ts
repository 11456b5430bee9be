// `edgeloop retrain status|run|policy`, over the operator API. `run --watch` polls the run and draws
// its progress (stage, bar, message) until it ends — through training, evaluation and the canary —
// then prints the verdict: the gates, the accuracies and the reason.
import * as z from 'zod';
import { RetrainPolicyView, RetrainRunView } from '../api/retraining/schemas.ts';
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
import { ProgressLine } from './model-progress.ts';
import { ago, keyValues, printJson, table, wantsJson } from './output.ts';

type Run = z.infer<typeof RetrainRunView>;
const RunList = z.object({ items: z.array(RetrainRunView) });
const FINISHED = new Set(['rejected', 'promoted', 'failed', 'cancelled']);
const runPath = (id: string) => `/api/v1/retrain/runs/${encodeURIComponent(id)}`;
const policyPath = (model: string) => `/api/v1/models/${encodeURIComponent(model)}/retrain-policy`;

const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '-');

/** A run in full: what it is, where it stands, the gates and where its data came from. */
export function renderRun(run: Run): string {
  const samples = (run.lineage.samples ?? {}) as Record<string, unknown>;
  const base = (run.lineage.baseDataset ?? {}) as Record<string, unknown>;
  const devices = Array.isArray(samples.devices) ? (samples.devices as string[]) : [];
  let text = keyValues([
    ['run', run.id],
    ['model', run.model],
    ['status', run.status],
    [
      'trigger',
      `${run.trigger}${run.trigger === 'drift' ? ` (${String(run.triggerDetail.state ?? '')})` : ''}`,
    ],
    ['champion', run.championVersion === null ? null : `v${run.championVersion}`],
    ['challenger', run.challengerVersion === null ? null : `v${run.challengerVersion}`],
    ['rollout', run.rolloutId],
    ['progress', `${run.progress.stage} ${Math.round(run.progress.fraction * 100)}% ${run.progress.message}`],
    [
      'base data',
      base.name ? `${String(base.name)}@${String(base.version)} (${String(base.test)} test images)` : null,
    ],
    [
      'edge samples',
      samples.usable === undefined
        ? null
        : `${String(samples.usable)} from ${devices.length} device(s): ${String(samples.train)} train, ${String(samples.holdout)} held out`,
    ],
    ['created', `${run.createdAt} (${ago(run.createdAt) ?? ''})`],
    ['finished', run.finishedAt],
    ['reason', run.reason],
  ]);
  const variants = (run.evaluation?.variants ?? {}) as Record<
    string,
    { champion: { base: number; edge: number }; challenger: { base: number; edge: number } }
  >;
  const rows = Object.entries(variants).map(([variant, v]) => [
    variant,
    pct(v.champion.base),
    pct(v.challenger.base),
    pct(v.champion.edge),
    pct(v.challenger.edge),
  ]);
  if (rows.length > 0) {
    text += `\n${table(['VARIANT', 'BASE CHAMPION', 'BASE CHALLENGER', 'EDGE CHAMPION', 'EDGE CHALLENGER'], rows)}`;
  }
  return text;
}

const status: CliCommand = {
  path: ['retrain', 'status'],
  summary: 'list retraining runs (or show one run in full)',
  args: '[run-id]',
  positionals: { min: 0, max: 1 },
  options: {
    model: { type: 'string', value: '<name>', help: 'only this model’s runs' },
    limit: { type: 'string', value: '<n>', help: 'most runs listed (default 20)' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const client = clientFrom(values, io);
    const id = positionals[0];
    if (id !== undefined) {
      const run = await client.request('GET', runPath(id), RetrainRunView);
      if (wantsJson(values)) printJson(io, run);
      else io.out(renderRun(run));
      return EXIT.ok;
    }
    const limit = stringValue(values, 'limit') ?? '20';
    if (!/^\d+$/.test(limit)) throw new CliUsageError(`--limit must be a whole number, got "${limit}"`);
    const model = stringValue(values, 'model');
    const query = new URLSearchParams({ limit, ...(model ? { model } : {}) });
    const { items } = await client.request('GET', `/api/v1/retrain/runs?${query}`, RunList);
    if (wantsJson(values)) {
      printJson(io, { items });
      return EXIT.ok;
    }
    io.out(
      table(
        ['ID', 'MODEL', 'STATUS', 'TRIGGER', 'CHAMPION', 'CHALLENGER', 'PROGRESS', 'CREATED', 'REASON'],
        items.map((r) => [
          r.id,
          r.model,
          r.status,
          r.trigger,
          r.championVersion === null ? null : `v${r.championVersion}`,
          r.challengerVersion === null ? null : `v${r.challengerVersion}`,
          `${r.progress.stage} ${Math.round(r.progress.fraction * 100)}%`,
          ago(r.createdAt),
          r.reason.length > 60 ? `${r.reason.slice(0, 57)}...` : r.reason,
        ]),
      ),
    );
    return EXIT.ok;
  },
};

const start: CliCommand = {
  path: ['retrain', 'run'],
  summary: 'start a retraining run now (refused with the reason when the policy says no)',
  args: '<model>',
  positionals: { min: 1, max: 1 },
  options: {
    watch: { type: 'boolean', short: 'w', help: 'follow the run until it ends (Ctrl-C stops watching)' },
    interval: { type: 'string', value: '<seconds>', help: 'refresh interval with --watch (default 1)' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const client = clientFrom(values, io);
    const run = await client.request('POST', '/api/v1/retrain/runs', RetrainRunView, {
      model: positionals[0],
    });
    if (values.watch !== true) {
      if (wantsJson(values)) printJson(io, run);
      else io.out(`Started retraining run ${run.id} of ${run.model} (${run.status}).\n`);
      return EXIT.ok;
    }
    const interval = Number(stringValue(values, 'interval') ?? '1');
    if (!(interval > 0)) throw new CliUsageError('--interval must be a positive number of seconds');
    const final = await watch(client, run, io, interval * 1000);
    if (wantsJson(values)) printJson(io, final);
    else io.out(renderRun(final));
    return final.status === 'promoted' || !FINISHED.has(final.status) ? EXIT.ok : EXIT.failed;
  },
};

/** Polls the run, drawing its progress, until it ends or the watch is stopped. */
async function watch(client: ApiClient, first: Run, io: CliIO, intervalMs: number): Promise<Run> {
  const bar = new ProgressLine(io, first.id);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (io.stop) io.stop.addEventListener('abort', onSignal, { once: true });
  else process.once('SIGINT', onSignal);
  let run = first;
  try {
    for (;;) {
      bar.update(`${run.status}/${run.progress.stage}`, run.progress.fraction, run.progress.message);
      if (FINISHED.has(run.status) || stop.signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        stop.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
      if (stop.signal.aborted) break;
      run = await client.request('GET', runPath(run.id), RetrainRunView);
    }
  } finally {
    bar.finish();
    if (!io.stop) process.off('SIGINT', onSignal);
  }
  return run;
}

/** `gates.maxBaseAccuracyDrop=0.02` → sets that path; values are JSON when they parse, else text. */
export function applySettings(policy: Record<string, unknown>, settings: string[]): Record<string, unknown> {
  const out = structuredClone(policy);
  for (const setting of settings) {
    const eq = setting.indexOf('=');
    if (eq <= 0) throw new CliUsageError(`--set wants key=value, got "${setting}"`);
    const path = setting.slice(0, eq).split('.');
    const raw = setting.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1) as string] = value;
  }
  return out;
}

function flatten(value: unknown, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, JSON.stringify(value)]];
}

const policy: CliCommand = {
  path: ['retrain', 'policy'],
  summary: 'show a model’s retraining policy, or change it with --set key=value',
  args: '<model>',
  positionals: { min: 1, max: 1 },
  options: {
    set: {
      type: 'string',
      multiple: true,
      value: '<key=value>',
      help: 'e.g. minLabelledSamples=100, triggerState=warn, gates.maxBaseAccuracyDrop=0.02',
    },
    ...CLIENT_OPTIONS,
  },
  details:
    'Keys: enabled, triggerState (warn|alert), minLabelledSamples, cooldownSeconds, recentWindowSeconds, maxSamples, edgeHoldoutFraction, seed, gates.maxBaseAccuracyDrop, gates.minEdgeAccuracyGain, training.hyperparameters.<name>, rollout.<field>, target.',
  async run({ values, positionals, io }) {
    const model = positionals[0] as string;
    const client = clientFrom(values, io);
    let view = await client.request('GET', policyPath(model), RetrainPolicyView);
    const settings = stringList(values as CliValues, 'set');
    if (settings.length > 0) {
      const body = applySettings(view.policy, settings);
      view = await client.request('PUT', policyPath(model), RetrainPolicyView, body);
    }
    if (wantsJson(values)) printJson(io, view);
    else {
      const note = view.stored ? '' : ' (defaults: no policy set yet)';
      io.out(`Retraining policy of ${view.model}${note}:\n${keyValues(flatten(view.policy))}`);
    }
    return EXIT.ok;
  },
};

export const retrainCommands: CliCommand[] = [status, start, policy];
