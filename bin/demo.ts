// `edgeloop start` (= `pnpm start`): the cloud's quick start plus a simulated fleet of real edge
// agents, the first rollout of the champion to that fleet in canary waves once a model exists, and
// (by default) the drift scenario: part of the fleet drifts and the cloud closes the loop on its own
// (bin/scenario-drift.ts).
import { join } from 'node:path';
import {
  type AfterCloudStart,
  ApiClient,
  CliUsageError,
  type CliValues,
  quickStartCommand,
} from '@edgeloop/cloud';
import { FleetMeter, formatSummary, parseClassMix, type SimulatedFleet } from '@edgeloop/edge-agent';
import { z } from 'zod';
import {
  DEFAULT_DRIFT_AFTER_SECONDS,
  DRIFT,
  DRIFTED_CLASS,
  runDriftScenario,
  SCENARIOS,
  type Scenario,
} from './scenario-drift.ts';
import { startDigitsFleet } from './sim.ts';

/** A few dozen devices of several classes would be nicer; 12 keeps a 2-core laptop responsive. */
const DEFAULT_DEVICES = 12;
const DEFAULT_CLASSES =
  'simulated:5,raspberry-pi-4:3,x86-industrial-gateway:2,pi-zero-2w:1,jetson-orin-nano:1';
const WAVES = [{ percent: 10 }, { percent: 50 }, { percent: 100 }];
const POLL_MS = 3000;
const SUMMARY_MS = 30_000;

const modelList = z.object({
  items: z.array(z.object({ name: z.string(), aliases: z.record(z.string(), z.number()) }).passthrough()),
});
const rolloutList = z.object({
  items: z.array(
    z.object({ id: z.string(), model: z.string(), version: z.number(), status: z.string() }).passthrough(),
  ),
});
const createdRollout = z.object({ id: z.string(), version: z.number() }).passthrough();

const str = (values: CliValues, name: string) =>
  typeof values[name] === 'string' ? (values[name] as string) : undefined;

const startFleetBeside: AfterCloudStart = async (cloud, { io, signal, values }) => {
  if (values['no-fleet'] === true) return async () => {};
  const devices = Number(str(values, 'devices') ?? DEFAULT_DEVICES);
  if (!Number.isInteger(devices) || devices < 1 || devices > 1000) {
    throw new RangeError(`--devices must be an integer from 1 to 1000, got ${str(values, 'devices')}`);
  }
  const scenario = (str(values, 'scenario') ?? 'drift') as Scenario;
  if (!SCENARIOS.includes(scenario)) {
    throw new CliUsageError(`--scenario must be one of ${SCENARIOS.join(', ')}, got "${scenario}"`);
  }
  const driftAfter = Number(str(values, 'drift-after') ?? DEFAULT_DRIFT_AFTER_SECONDS);
  if (!(driftAfter >= 0 && driftAfter <= 86_400)) {
    throw new CliUsageError(`--drift-after must be a number of seconds from 0 to 86400`);
  }
  if (!cloud.adminToken) throw new Error('the quick start has no admin token to provision the fleet with');
  const dataDir = str(values, 'data-dir') ?? (io.env.EDGELOOP_DATA_DIR || './.edgeloop');
  io.out(`Starting a simulated fleet of ${devices} edge agents (MNIST cameras, 1 frame/s each)...\n`);
  const fleet = await startDigitsFleet({
    cloudUrl: cloud.urls.api,
    apiToken: cloud.adminToken,
    dataDir: join(dataDir, 'sim'),
    devices,
    idPrefix: 'cam',
    classes: parseClassMix(str(values, 'classes') ?? DEFAULT_CLASSES),
    fps: 1,
  });
  io.out(`Fleet up: ${fleet.devices.length} devices. See them: edgeloop device list\n`);
  const api = new ApiClient(cloud.urls.api, cloud.adminToken);
  const done = rollOutChampion(api, fleet, io.out, signal).catch((err: unknown) => {
    io.err(`demo: could not start the rollout (${(err as Error).message})\n`);
  });
  const story =
    scenario === 'drift'
      ? runDriftScenario({
          api,
          fleet,
          dataDir,
          driftAfterSeconds: driftAfter,
          dashboardUrl: cloud.urls.dashboard,
          say: io.out,
          signal,
        }).catch((err: unknown) => {
          if (!signal.aborted) io.err(`demo: the drift scenario stopped (${(err as Error).message})\n`);
        })
      : undefined;
  const meter = new FleetMeter();
  const summary = setInterval(() => io.out(`${formatSummary(meter.sample(fleet))}\n`), SUMMARY_MS);
  summary.unref();
  return async () => {
    clearInterval(summary);
    await done;
    await story;
    await fleet.stop();
  };
};

/** Waits for a champion, then rolls it out to the fleet in waves unless a rollout already did. */
async function rollOutChampion(
  api: ApiClient,
  fleet: SimulatedFleet,
  say: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let waitingSaid = false;
  while (!signal.aborted) {
    const models = await api.request('GET', '/api/v1/models', modelList).catch(() => undefined);
    const champion = models?.items.find((m) => m.name === 'digits')?.aliases.champion;
    if (champion !== undefined) {
      const existing = await api.request('GET', '/api/v1/rollouts', rolloutList);
      if (existing.items.some((r) => r.model === 'digits' && r.version === champion)) return;
      const rollout = await api.request('POST', '/api/v1/rollouts', createdRollout, {
        model: 'digits',
        alias: 'champion',
        target: { kind: 'devices', deviceIds: fleet.devices.map((d) => d.deviceId) },
        waves: WAVES,
        minSoakSeconds: 20,
        deviceTimeoutSeconds: 300,
      });
      say(
        `Rolling out digits v${rollout.version} to ${fleet.devices.length} devices in waves 10% → 50% → 100%.\n` +
          `  Watch it:  edgeloop rollout show ${rollout.id} --watch\n`,
      );
      return;
    }
    if (!waitingSaid) say('Waiting for a champion model before the first rollout...\n');
    waitingSaid = true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS).unref());
  }
}

export const demoStartCommand = quickStartCommand({
  summary:
    'quick start: the cloud on embedded defaults, a simulated fleet, a first rollout in waves, then drift, retraining and promotion',
  options: {
    devices: { type: 'string', value: '<n>', help: `simulated devices (${DEFAULT_DEVICES})` },
    classes: { type: 'string', value: '<mix>', help: `device classes and weights (${DEFAULT_CLASSES})` },
    'no-fleet': { type: 'boolean', help: 'start only the cloud' },
    scenario: {
      type: 'string',
      value: '<name>',
      help: `drift: drift part of the fleet once the first rollout settled and narrate the loop; none (drift)`,
    },
    'drift-after': {
      type: 'string',
      value: '<seconds>',
      help: `with --scenario drift: wait this long after the first rollout (${DEFAULT_DRIFT_AFTER_SECONDS})`,
    },
  },
  details:
    'The fleet keeps its credentials in <data-dir>/sim, so a second start resumes the same devices.\n' +
    `The drift scenario brightens the cameras of class "${DRIFTED_CLASS}" (${DRIFT.kind} ${DRIFT.severity}); the cloud then\n` +
    'detects the drift, retrains on labelled fleet samples, canaries and promotes the challenger by itself,\n' +
    'and the demo prints each step. It sets a demo retraining policy unless the model has one. It runs\n' +
    'once per data dir: a later start re-applies the same drift (and finishes narrating an unfinished loop).',
  afterStart: startFleetBeside,
});
