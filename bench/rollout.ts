// `pnpm bench rollout [--devices N] [--model-mb M] [--workers W] [--soak S] [--fps F] [--timeout S]`:
// a ~1 MB model rolled out to N = 1,000 simulated devices on loopback, once in one wave and once in
// the default three waves (5% / 25% / 100%, default health gates on, a short soak), through the real
// cloud in this process and real agents split across W fleet-simulator processes, so the cloud's RSS
// and CPU are its own. Per rollout: seconds from `POST /api/v1/rollouts` to 100% of the target active
// (as the cloud sees it) and to `completed`, bytes the artifact server published on the artifact topics
// divided by (model bytes × devices) (the broker's fan-out keeps it far below 1), peak RSS of each side.
//
// The anchor: AWS IoT Jobs notifies at most 1,000 devices per minute; the target is 1,000 devices
// active in under 60 s in one wave.
//
// The model is a 784-H-10 MLP imported through the cloud's pipeline (quantized, golden set, signed,
// registered); devices of class `simulated` take its int8 variant, H chosen so that is ~`--model-mb`.
// Three versions: v1 is the install every device starts from (measured, reported as
// `initial_install`), v2 is rolled out in one wave, v3 in three.
//
// Modules: rollout/cloud.ts and rollout/model.ts (setup, cloud side), rollout/fleet.ts and
// rollout/fleet-worker.ts (setup, devices), rollout/measure.ts, rollout/report.ts.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createScratchPostgresDatabase } from '@edgeloop/cloud';
import { startPrivateMosquitto } from './fleet/broker.ts';
import { type ImportedVersion, importDigitsModel, startBenchCloud } from './rollout/cloud.ts';
import { SimulatedFleetWorkers } from './rollout/fleet.ts';
import { measureRollout, type RolloutPlan, type RolloutRun } from './rollout/measure.ts';
import { hiddenForMegabytes, int8Of, mlpModel } from './rollout/model.ts';
import { mb, RssSampler, round, sleep } from './rollout/process.ts';
import { printTable, writeReport } from './rollout/report.ts';

// The pieces other benches (agent.ts) reuse.
export {
  type BenchCloud,
  type ImportedVersion,
  importDigitsModel,
  startBenchCloud,
} from './rollout/cloud.ts';
export { type RolloutView, timeRollout } from './rollout/measure.ts';
export { int8Of, mlpModel } from './rollout/model.ts';
export { type Child, forkChild, mb, RssSampler, round, serveParent, sleep } from './rollout/process.ts';

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = `pnpm bench rollout [options]
  --devices N            simulated devices (default 1000)
  --model-mb M           size of the int8 artifact in MiB (default 1)
  --hidden H             MLP hidden width, overrides --model-mb
  --workers W            fleet worker processes (default ceil(N / 250))
  --soak S               minimum soak of each gated wave, seconds (default 10)
  --fps F                inferences per second per device (default 1)
  --timeout S            per-rollout timeout, seconds (default 600)
  --start-concurrency C  agents each worker starts at once (default 16)
  --broker B             embedded (aedes + PGlite in this process, the default) or mosquitto
                         (a private Mosquitto on 127.0.0.1:18831 + a scratch database on
                         DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432/test)
writes bench/results/rollout.json (rollout-mosquitto.json with --broker mosquitto)`;

/** Agents per fleet worker process when `--workers` is not given. */
const DEVICES_PER_WORKER = 250;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      devices: { type: 'string', default: '1000' },
      'model-mb': { type: 'string', default: '1' },
      hidden: { type: 'string' },
      workers: { type: 'string' },
      soak: { type: 'string', default: '10' },
      fps: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '600' },
      'start-concurrency': { type: 'string', default: '16' },
      broker: { type: 'string', default: 'embedded' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const devices = Number(values.devices);
  const hidden = values.hidden ? Number(values.hidden) : hiddenForMegabytes(Number(values['model-mb']));
  const workers = values.workers ? Number(values.workers) : Math.ceil(devices / DEVICES_PER_WORKER);
  const soak = Number(values.soak);
  const fps = Number(values.fps);
  const timeoutS = Number(values.timeout);
  const loadBefore = loadavg();
  console.log(
    `rollout bench: N = ${devices} simulated devices in ${workers} fleet processes, ${fps} fps each, MLP hidden ${hidden}, soak ${soak} s, load ${loadBefore.map((x) => x.toFixed(1)).join(' ')}`,
  );
  if (values.broker !== 'embedded' && values.broker !== 'mosquitto')
    throw new Error(`--broker must be embedded or mosquitto, not ${values.broker}`);
  const production = values.broker === 'mosquitto';
  const broker = production ? await startPrivateMosquitto(18831, 1_000_000) : undefined;
  const scratch = production
    ? await createScratchPostgresDatabase(
        process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
      )
    : undefined;
  if (broker)
    console.log(
      `  private mosquitto (pid ${broker.pid}) on ${broker.url}; PostgreSQL database ${scratch?.url}`,
    );
  const bench = await startBenchCloud(
    broker && scratch
      ? {
          mqttUrl: broker.url,
          databaseUrl: scratch.url,
          mqttCloudSecret: randomBytes(18).toString('base64url'),
          mqttShareGroup: `rollout-${Date.now().toString(36)}`,
        }
      : {},
  );
  const cloudRss = new RssSampler();
  let fleet: SimulatedFleetWorkers | undefined;
  const runs: RolloutRun[] = [];
  try {
    const t0 = performance.now();
    const versions: ImportedVersion[] = [];
    for (const seed of [1, 2, 3])
      versions.push(await importDigitsModel(bench, 'mlp1m', mlpModel(hidden, seed)));
    const modelBytes = int8Of(versions[0] as ImportedVersion).size;
    console.log(
      `  imported 3 versions of mlp1m in ${round((performance.now() - t0) / 1000)} s: ${versions[0]?.variants.map((v) => `${v.variant} ${v.size} B`).join(', ')}`,
    );
    const shas = new Set(versions.map((v) => int8Of(v).sha256));
    if (shas.size !== versions.length) throw new Error('two versions have the same int8 artifact');
    const cloudRssAfterImportsMb = mb(process.memoryUsage.rss());
    const tag = `bench-${Date.now().toString(36)}`;
    const started = await SimulatedFleetWorkers.start({
      cloudUrl: bench.cloud.urls.api,
      apiToken: bench.cloud.adminToken ?? '',
      devices,
      workers,
      tag,
      fps,
      startConcurrency: Number(values['start-concurrency']),
    });
    fleet = started.fleet;
    console.log(`  fleet of ${devices} started in ${round(started.seconds)} s`);
    for (;;) {
      const online = await bench.api<{ total: number }>(
        'GET',
        `/api/v1/devices?limit=1&tag=${tag}&status=online`,
      );
      if (online.total >= devices) break;
      await sleep(250);
    }
    const cloudRssFleetOnlineMb = mb(process.memoryUsage.rss());
    const plan = (name: string, index: number, waves: string, body: Record<string, unknown>) => {
      const version = versions[index] as ImportedVersion;
      const variant = int8Of(version);
      return {
        name,
        waves,
        model: 'mlp1m',
        version: version.version,
        variant: variant.variant,
        modelBytes: variant.size,
        body,
      } satisfies RolloutPlan;
    };
    // A wave passes at 100% active rather than the default 95%: the scheduler stops observing a
    // rollout once it completes, so the cloud's 100% would otherwise never be seen.
    const oneWave = { waves: [{ percent: 100 }], minSoakSeconds: 0, successThreshold: 100 };
    const plans = [
      plan('initial_install', 0, '100%', oneWave),
      plan('one_wave', 1, '100%', oneWave),
      plan('three_waves_gated', 2, '5%,25%,100% (default), default gates, 100% success', {
        minSoakSeconds: soak,
        successThreshold: 100,
      }),
    ];
    for (const p of plans) {
      const entry = await measureRollout(bench, fleet, cloudRss, p, { kind: 'tags', tags: [tag] }, timeoutS);
      runs.push(entry);
      console.log(
        `  ${p.name}: ${entry.status} ${entry.active}/${entry.devices} active in ${entry.seconds_to_100pct_active} s, completed ${entry.seconds_to_completed} s${entry.reason ? ` (${entry.reason})` : ''}, load ${loadavg()[0]?.toFixed(1)}`,
      );
      // Still running past the timeout: its devices stay in it, so the next rollout would be refused
      // (CONFLICT). Report what was measured instead of failing the whole run.
      if (entry.status === 'running') {
        console.log(
          `  ${p.name} did not finish within --timeout ${timeoutS} s; the rollouts after it are skipped`,
        );
        break;
      }
    }
    const report = {
      broker: production ? 'mosquitto + postgresql' : 'embedded aedes + pglite',
      devices,
      workers: fleet.workers.length,
      fps,
      soakSeconds: soak,
      modelBytes,
      hidden,
      fleetStartSeconds: started.seconds,
      cloudRssAfterImportsMb,
      cloudRssFleetOnlineMb,
      loadBefore,
      runs,
    };
    printTable(report);
    const out = join(here, 'results', production ? 'rollout-mosquitto.json' : 'rollout.json');
    await writeReport(out, report);
    console.log(
      `load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}\nwrote ${out}`,
    );
  } finally {
    await fleet?.stop();
    cloudRss.stop();
    // The results are written. Closing a broker with a thousand sessions has hung here (aedes
    // recursing through a client's queued packets), so the run does not wait for it forever.
    const closed = await Promise.race([bench.close().then(() => true), sleep(30_000).then(() => false)]);
    await broker?.stop();
    await scratch?.drop().catch(() => undefined);
    if (!closed) {
      console.warn('  the cloud did not close within 30 s; exiting anyway');
      process.exit(process.exitCode ?? 0);
    }
  }
}
