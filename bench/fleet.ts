// `pnpm bench fleet [--devices N] [--workers W] [--minutes M] [--window-seconds S] [--fps F]
//   [--rollout auto|on|off]`: the scale run (issue [I] item 5). N real agents (the fleet simulator),
// split across W worker processes, against the real cloud (`startCloud`) on the shared Mosquitto
// (MQTT_URL, default mqtt://127.0.0.1:1883) and a scratch PostgreSQL database (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test). Devices are provisioned through the cloud's API by the
// workers as they start (one POST each). Telemetry windows every S seconds (60 by default, as in
// the issue; shorter for a quicker run, reported as used).
//
// Measured: the ramp (seconds until the cloud counts all N online), then over M minutes of steady
// state: windows/s stored in `telemetry_windows`, ingest lag p50/p99 from the rows themselves
// (received_at − window_end, ingested_at − window_end), the cloud process's CPU and RSS, the fleet's
// RSS; then, when memory allows, one rollout of a small model to the whole fleet (seconds to 100%
// active). A memory guard ends the fleet processes if MemAvailable falls under --mem-floor-gb.
//
// Modules: fleet/ramp.ts (timeline samples), fleet/telemetry.ts (SQL over the stored rows),
// fleet/memory.ts (the guard), fleet/broker.ts (cleans the shared broker), fleet/report.ts; the
// cloud, the worker processes and the model builder are bench/rollout's.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createScratchPostgresDatabase, type Database, openDatabase } from '@edgeloop/cloud';
import { cleanUpBroker } from './fleet/broker.ts';
import { MemoryGuard, memAvailable } from './fleet/memory.ts';
import { devicesOnline, FleetSampler } from './fleet/ramp.ts';
import { type FleetReport, printTable, writeReport } from './fleet/report.ts';
import { ingestInterval, windowsStored } from './fleet/telemetry.ts';
import { type BenchCloud, importDigitsModel, startBenchCloud } from './rollout/cloud.ts';
import { SimulatedFleetWorkers } from './rollout/fleet.ts';
import { measureRollout, type RolloutRun } from './rollout/measure.ts';
import { int8Of, mlpModel } from './rollout/model.ts';
import { mb, RssSampler, round, sleep } from './rollout/process.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEVICES_PER_WORKER = 1000;
const GB = 1024 ** 3;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      devices: { type: 'string', default: '1000' },
      workers: { type: 'string' },
      minutes: { type: 'string', default: '2' },
      'window-seconds': { type: 'string', default: '60' },
      fps: { type: 'string', default: '0.1' },
      'start-concurrency': { type: 'string', default: '16' },
      rollout: { type: 'string', default: 'auto' },
      // Per agent during an install, seen in bench/rollout: 15–29 MB. `auto` rolls out only when
      // N times this fits above the memory floor.
      'rollout-mb-per-device': { type: 'string', default: '15' },
      'rollout-hidden': { type: 'string', default: '16' },
      'mem-floor-gb': { type: 'string', default: '4' },
      timeout: { type: 'string', default: '600' },
    },
  });
  const devices = Number(values.devices);
  const workers = values.workers ? Number(values.workers) : Math.ceil(devices / DEVICES_PER_WORKER);
  const minutes = Number(values.minutes);
  const windowSeconds = Number(values['window-seconds']);
  const fps = Number(values.fps);
  const floorBytes = Number(values['mem-floor-gb']) * GB;
  const timeoutS = Number(values.timeout);
  const databaseServer = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const mqttUrl = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883';
  const loadBefore = loadavg();
  const memBeforeGb = round(memAvailable() / GB, 2);
  console.log(
    `fleet bench: N = ${devices} agents in ${workers} processes, telemetry every ${windowSeconds} s, ${fps} fps, ` +
      `${minutes} min steady state, MemAvailable ${memBeforeGb} GB, load ${loadBefore.map((x) => x.toFixed(1)).join(' ')}`,
  );

  const tag = `fl${Date.now().toString(36)}`;
  const scratch = await createScratchPostgresDatabase(databaseServer);
  let bench: BenchCloud | undefined;
  let database: Database | undefined;
  let fleet: SimulatedFleetWorkers | undefined;
  let aborted: string | null = null;
  const guard = new MemoryGuard(floorBytes, (reason) => {
    aborted = reason;
    console.log(`  memory guard: ${reason}; ending the fleet processes`);
    fleet?.kill();
  });
  const cloudRss = new RssSampler();
  try {
    bench = await startBenchCloud({
      mqttUrl,
      databaseUrl: scratch.url,
      mqttCloudSecret: randomBytes(18).toString('base64url'),
      mqttShareGroup: tag,
    });
    database = await openDatabase({ url: scratch.url, poolSize: 2 });
    const sampler = new FleetSampler(bench, tag);

    // The model is imported before the fleet exists, so the pipeline's CPU stays out of the run.
    const estimateGb = (devices * Number(values['rollout-mb-per-device'])) / 1024;
    const headroomGb = (memAvailable() - floorBytes) / GB;
    const rolloutPlanned = values.rollout === 'on' || (values.rollout === 'auto' && estimateGb < headroomGb);
    const rolloutSkipped = rolloutPlanned
      ? null
      : values.rollout === 'off'
        ? '--rollout off'
        : `estimated ${estimateGb.toFixed(1)} GB for the installs > ${headroomGb.toFixed(1)} GB above the floor`;
    const version = rolloutPlanned
      ? await importDigitsModel(bench, 'fleetmlp', mlpModel(Number(values['rollout-hidden']), 1))
      : undefined;

    // Ramp: workers start in parallel, each provisioning and starting its agents.
    const rampStarted = performance.now();
    const ticker = setInterval(() => void sampler.sample(fleet).catch(() => {}), 5000);
    let started: Awaited<ReturnType<typeof SimulatedFleetWorkers.start>>;
    try {
      started = await SimulatedFleetWorkers.start({
        cloudUrl: bench.cloud.urls.api,
        apiToken: bench.cloud.adminToken ?? '',
        devices,
        workers,
        tag,
        fps,
        startConcurrency: Number(values['start-concurrency']),
        // A clean session on disconnect: thousands of week-long sessions must not outlive the run.
        tuning: { telemetryWindowMs: windowSeconds * 1000, sessionExpirySeconds: 0 },
      });
    } finally {
      clearInterval(ticker);
    }
    fleet = started.fleet;
    const startedSeconds = round(started.seconds, 1);
    let online = await devicesOnline(bench, tag);
    for (const deadline = performance.now() + 120_000; online < devices && performance.now() < deadline; ) {
      await sleep(500);
      online = await devicesOnline(bench, tag);
    }
    const rampSeconds = round((performance.now() - rampStarted) / 1000, 1);
    console.log(
      `  ramp: workers started ${devices} agents in ${startedSeconds} s; cloud counts ${online} online after ${rampSeconds} s`,
    );

    // One window of warm-up so every device's timer is running, then the steady state.
    await sleep(windowSeconds * 1000);
    const steadyFrom = Date.now();
    const cpuBefore = process.cpuUsage();
    const sentBefore = (await fleet.sample()).reduce((n, w) => n + w.windowsSent, 0);
    cloudRss.reset();
    const steadyEnd = performance.now() + minutes * 60_000;
    while (performance.now() < steadyEnd && !aborted) {
      const s = await sampler.sample(fleet);
      console.log(
        `  t=${s.t_s}s online ${s.online_cloud} connected ${s.connected_agents} sent ${s.windows_sent} cloud ${s.cloud_cpu_pct}% ${s.cloud_rss_mb} MB fleet ${s.fleet_rss_mb} MB free ${s.mem_available_gb} GB load ${s.load1}`,
      );
      await sleep(Math.min(15_000, Math.max(0, steadyEnd - performance.now())));
    }
    const steadyTo = Date.now();
    const cpu = process.cpuUsage(cpuBefore);
    const sentAfter = (await fleet.sample()).reduce((n, w) => n + w.windowsSent, 0);
    // Windows published in the interval still in flight at its end are not counted as stored.
    await sleep(2000);
    const ingest = await ingestInterval(database, steadyFrom, steadyTo);
    const steady = {
      ...ingest,
      windows_per_s_expected: round(devices / windowSeconds, 1),
      windows_sent_by_agents: sentAfter - sentBefore,
      online_at_end: await devicesOnline(bench, tag),
      cloud_cpu_pct_of_one_core: round(
        ((cpu.user + cpu.system) / 1e6 / ((steadyTo - steadyFrom) / 1000)) * 100,
        1,
      ),
      cloud_rss_mb_peak: mb(cloudRss.peak()),
      fleet_rss_mb: sampler.samples.at(-1)?.fleet_rss_mb ?? 0,
    };

    let rollout: RolloutRun | null = null;
    if (version && !aborted) {
      const variant = int8Of(version);
      rollout = await measureRollout(
        bench,
        fleet,
        cloudRss,
        {
          name: 'whole_fleet',
          waves: '100%',
          model: 'fleetmlp',
          version: version.version,
          variant: variant.variant,
          modelBytes: variant.size,
          body: { waves: [{ percent: 100 }], minSoakSeconds: 0, successThreshold: 100 },
        },
        { kind: 'tags', tags: [tag] },
        timeoutS,
      );
      console.log(
        `  rollout: ${rollout.status} ${rollout.active}/${rollout.devices} active in ${rollout.seconds_to_100pct_active} s`,
      );
    }

    const report: FleetReport = {
      devices,
      workers: fleet.workers.length,
      windowSeconds,
      fps,
      minutes,
      mqttUrl,
      loadBefore,
      memBeforeGb,
      memLowestGb: guard.lowestGb,
      aborted,
      startedSeconds,
      rampSeconds,
      onlineAfterRamp: online,
      steady,
      windowsStoredTotal: await windowsStored(database),
      rollout,
      rolloutSkipped: rollout ? null : (rolloutSkipped ?? aborted),
      timeline: sampler.samples,
    };
    printTable(report);
    const out = join(here, 'results', 'fleet.json');
    await writeReport(out, report);
    console.log(
      `load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}\nwrote ${out}`,
    );
  } finally {
    await fleet?.stop();
    guard.stop();
    cloudRss.stop();
    await bench?.close();
    if (database) {
      const ids = (await database.db.execute('select id from devices').catch(() => [])) as unknown as {
        id: string;
      }[];
      const cleared = await cleanUpBroker(
        mqttUrl,
        bench?.dir ?? '',
        Array.from(ids, (r) => r.id),
      ).catch((err: unknown) => {
        console.log(`  broker clean-up failed: ${String(err)}`);
        return 0;
      });
      console.log(`  cleared ${cleared} retained topics on ${mqttUrl}`);
      await database.close();
    }
    await scratch.drop();
  }
}
