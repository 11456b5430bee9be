// `edgeloop rollout create|list|show|pause|resume|abort|rollback`, over the operator API.
// `show --watch` polls the rollout and redraws its per-wave progress in place on a TTY (or prints a
// new snapshot whenever it changes elsewhere) until the rollout finishes or the command is stopped.
import { z } from 'zod';
import { Rollout, RolloutEvent } from '../api/rollouts/schemas.ts';
import { DEFAULT_GATES, parseWaveList, type RolloutTarget } from '../rollouts/policy.ts';
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
import { printJson, table, wantsJson } from './output.ts';
import { CLEAR_SCREEN, renderRollout } from './rollout-view.ts';

const RolloutList = z.object({ items: z.array(Rollout) });
const EventList = z.object({ items: z.array(RolloutEvent) });
const FINISHED = new Set(['completed', 'aborted', 'rolled_back']);

function numberOption(values: CliValues, name: string): number | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new CliUsageError(`--${name} must be a number, got "${raw}"`);
  return value;
}

function targetFrom(values: CliValues): RolloutTarget {
  const group = stringValue(values, 'group');
  const tags = stringList(values, 'tag');
  const deviceClass = stringValue(values, 'class');
  const ids = stringList(values, 'device');
  const given = [group, tags.length > 0, deviceClass, ids.length > 0].filter(Boolean).length;
  if (given !== 1) throw new CliUsageError('give exactly one target: --group, --tag, --class or --device');
  if (group) return { kind: 'group', group };
  if (tags.length > 0) return { kind: 'tags', tags };
  if (deviceClass) return { kind: 'class', deviceClass };
  return { kind: 'devices', deviceIds: ids };
}

const idArg = { args: '<rollout-id>', positionals: { min: 1, max: 1 } };
const path = (id: string, suffix = '') => `/api/v1/rollouts/${encodeURIComponent(id)}${suffix}`;

const create: CliCommand = {
  path: ['rollout', 'create'],
  summary: 'roll a model version out to a group, tags, a device class or devices, in waves',
  args: '<model> <version|@alias>',
  positionals: { min: 2, max: 2 },
  options: {
    group: { type: 'string', value: '<name>', help: 'target: the devices of a group' },
    tag: { type: 'string', multiple: true, value: '<tag>', help: 'target: devices with every given tag' },
    class: { type: 'string', value: '<class>', help: 'target: devices of a device class (profile id)' },
    device: { type: 'string', multiple: true, value: '<id>', help: 'target: these devices' },
    waves: {
      type: 'string',
      value: '<list>',
      help: 'cumulative waves, e.g. 5%,25%,100% (default) or 1,10,100%',
    },
    success: { type: 'string', value: '<pct>', help: 'share of a wave that must be active (default 95)' },
    failure: {
      type: 'string',
      value: '<pct>',
      help: 'share failed or rolled back that trips it (default 10)',
    },
    soak: { type: 'string', value: '<seconds>', help: 'minimum soak per wave (default 300)' },
    'device-timeout': { type: 'string', value: '<seconds>', help: 'per device (default 1800)' },
    'on-failure': { type: 'string', value: 'pause|rollback', help: 'what a trip does (default rollback)' },
    seed: { type: 'string', value: '<n>', help: 'wave assignment seed (default random)' },
    shadow: {
      type: 'string',
      value: '<rate>',
      help: 'start with a shadow phase: the first wave runs the new model beside its own on this share of frames',
    },
    'shadow-agreement': {
      type: 'string',
      value: '<0..1>',
      help: 'least top-class agreement for the shadow phase to pass (default 0.9)',
    },
    'shadow-frames': {
      type: 'string',
      value: '<n>',
      help: 'shadow frames needed before judging (default 200)',
    },
    'shadow-soak': { type: 'string', value: '<seconds>', help: 'least shadow phase duration (default 300)' },
    'max-drift-increase': {
      type: 'string',
      value: '<psi>',
      help: 'add the drift gate: wave drift score may exceed the old model’s by at most this',
    },
    promote: {
      type: 'string',
      value: '<alias>',
      help: 'point this alias (e.g. champion) at the version when the rollout completes',
    },
    watch: { type: 'boolean', help: 'follow the rollout after creating it' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const [model, which] = positionals as [string, string];
    const version = which.startsWith('@') ? undefined : Number(which);
    if (version !== undefined && !Number.isInteger(version))
      throw new CliUsageError(`version must be a number or @alias, got "${which}"`);
    const onFailure = stringValue(values, 'on-failure');
    if (onFailure !== undefined && onFailure !== 'pause' && onFailure !== 'rollback')
      throw new CliUsageError('--on-failure must be pause or rollback');
    let waves: ReturnType<typeof parseWaveList> | undefined;
    try {
      const text = stringValue(values, 'waves');
      waves = text === undefined ? undefined : parseWaveList(text);
    } catch (err) {
      throw new CliUsageError(`--waves: ${(err as Error).message}`);
    }
    const shadowRate = numberOption(values, 'shadow');
    const shadowTuning = {
      minAgreement: numberOption(values, 'shadow-agreement'),
      minFrames: numberOption(values, 'shadow-frames'),
      soakSeconds: numberOption(values, 'shadow-soak'),
    };
    const tuned = Object.fromEntries(Object.entries(shadowTuning).filter(([, v]) => v !== undefined));
    if (shadowRate === undefined && Object.keys(tuned).length > 0)
      throw new CliUsageError('--shadow-agreement, --shadow-frames and --shadow-soak need --shadow <rate>');
    const maxDrift = numberOption(values, 'max-drift-increase');
    const optional = {
      shadow: shadowRate === undefined ? undefined : { rate: shadowRate, ...tuned },
      gates: maxDrift === undefined ? undefined : { ...DEFAULT_GATES, drift: { maxIncrease: maxDrift } },
      promoteAlias: stringValue(values, 'promote'),
      successThreshold: numberOption(values, 'success'),
      failureThreshold: numberOption(values, 'failure'),
      minSoakSeconds: numberOption(values, 'soak'),
      deviceTimeoutSeconds: numberOption(values, 'device-timeout'),
      seed: numberOption(values, 'seed'),
      onFailure,
      waves,
    };
    const body = {
      model,
      ...(version === undefined ? { alias: which.slice(1) } : { version }),
      target: targetFrom(values),
      ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    };
    const client = clientFrom(values, io);
    const rollout = await client.request('POST', '/api/v1/rollouts', Rollout, body);
    if (values.watch === true) return watch(client, rollout.id, io, 2000);
    if (wantsJson(values)) printJson(io, rollout);
    else io.out(`Created rollout ${rollout.id}.\n\n${renderRollout(rollout)}`);
    return EXIT.ok;
  },
};

const list: CliCommand = {
  path: ['rollout', 'list'],
  summary: 'list rollouts, newest first',
  options: {
    status: { type: 'string', value: '<status>', help: 'running, paused, completed, aborted or rolled_back' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, io }) {
    const status = stringValue(values, 'status');
    const { items } = await clientFrom(values, io).request(
      'GET',
      `/api/v1/rollouts${status ? `?status=${encodeURIComponent(status)}` : ''}`,
      RolloutList,
    );
    if (wantsJson(values)) printJson(io, { items });
    else
      io.out(
        table(
          ['ID', 'KIND', 'MODEL', 'STATUS', 'WAVE', 'ACTIVE', 'FAILED', 'CREATED'],
          items.map((r) => [
            r.id,
            r.kind,
            `${r.model} v${r.version}`,
            r.status,
            r.waves.length > 0 ? `${Math.min(r.currentWave + 1, r.waves.length)}/${r.waves.length}` : '-',
            `${r.totals.active}/${r.totals.total}`,
            r.totals.failed,
            r.createdAt.slice(0, 19).replace('T', ' '),
          ]),
        ),
      );
    return EXIT.ok;
  },
};

const show: CliCommand = {
  path: ['rollout', 'show'],
  summary: 'show a rollout with per-wave progress (--watch to follow it live)',
  ...idArg,
  options: {
    watch: { type: 'boolean', short: 'w', help: 'redraw until the rollout finishes (Ctrl-C to stop)' },
    interval: { type: 'string', value: '<seconds>', help: 'refresh interval with --watch (default 2)' },
    events: { type: 'boolean', help: 'also print the rollout’s events' },
    ...CLIENT_OPTIONS,
  },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const client = clientFrom(values, io);
    if (values.watch === true) return watch(client, id, io, (numberOption(values, 'interval') ?? 2) * 1000);
    const rollout = await client.request('GET', path(id), Rollout);
    const events =
      values.events === true ? (await client.request('GET', path(id, '/events'), EventList)).items : [];
    if (wantsJson(values)) printJson(io, values.events === true ? { ...rollout, events } : rollout);
    else io.out(renderRollout(rollout, events));
    return EXIT.ok;
  },
};

/** Polls and redraws until the rollout finishes or `io.stop` / SIGINT ends the watch. */
async function watch(client: ApiClient, id: string, io: CliIO, intervalMs: number): Promise<number> {
  const tty = (io.logSink ?? process.stdout).isTTY === true;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (io.stop) io.stop.addEventListener('abort', onSignal, { once: true });
  else process.once('SIGINT', onSignal);
  let last = '';
  try {
    for (;;) {
      const rollout = await client.request('GET', path(id), Rollout);
      const events = (await client.request('GET', path(id, '/events'), EventList)).items;
      const frame = renderRollout(rollout, events);
      if (tty) io.out(`${CLEAR_SCREEN}${frame}`);
      else if (frame !== last) io.out(`${frame}\n`);
      last = frame;
      if (FINISHED.has(rollout.status) || stop.signal.aborted) return EXIT.ok;
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
      if (stop.signal.aborted) return EXIT.ok;
    }
  } finally {
    if (!io.stop) process.off('SIGINT', onSignal);
  }
}

function command(name: 'pause' | 'resume' | 'abort' | 'rollback', summary: string): CliCommand {
  return {
    path: ['rollout', name],
    summary,
    ...idArg,
    options: {
      reason: { type: 'string', value: '<text>', help: 'recorded with the event' },
      ...CLIENT_OPTIONS,
    },
    async run({ values, positionals, io }) {
      const reason = stringValue(values, 'reason');
      const rollout = await clientFrom(values, io).request(
        'POST',
        path(positionals[0] as string, `/${name}`),
        Rollout,
        reason ? { reason } : {},
      );
      if (wantsJson(values)) printJson(io, rollout);
      else {
        const rolled = rollout.rolledBackBy ? ` Rollback ${rollout.rolledBackBy} started.` : '';
        io.out(`Rollout ${rollout.id} is ${rollout.status}.${rolled}\n`);
      }
      return EXIT.ok;
    },
  };
}

export const rolloutCommands: CliCommand[] = [
  create,
  list,
  show,
  command('pause', 'pause a running rollout (sent devices carry on, no new wave starts)'),
  command('resume', 'resume a paused rollout (failures so far accepted, soak and timeouts restart)'),
  command('abort', 'abort a rollout (devices keep what they have)'),
  command('rollback', 'roll back: every touched device returns to its previous model, in one wave'),
];
