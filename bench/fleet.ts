// `pnpm bench fleet [--devices N] [--workers W] [--minutes M] [--window-seconds S] [--fps F]
//   [--rollout auto|on|off] [--broker private|shared]`: the scale run (issue [I] item 5). N real
// agents (the fleet simulator), split across W worker processes, against the real cloud
// (`startCloud`) on Mosquitto and a scratch PostgreSQL database (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test). The broker is, by default, a private Mosquitto the bench
// starts on --broker-port (18830) with its own config file (fleet/broker.ts: max_queued_messages
// raised, no persistence); `--broker shared` uses MQTT_URL (default mqtt://127.0.0.1:1883) as it is
// configured. Devices are provisioned through the cloud's API by the workers as they start (one
// POST each). Telemetry windows every S seconds (60 by default, as in the issue; shorter for a
// quicker run, reported as used).
//
// bench/results/fleet.json is written after every phase (ramp, steady state, rollout), so a run that
// fails or is ended (SIGINT/SIGTERM) later still leaves what it measured, with `error` and `phase`.
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
import { cleanUpBroker, type PrivateBroker, startPrivateMosquitto } from './fleet/broker.ts';
import { MemoryGuard, memAvailable } from './fleet/memory.ts';
import { devicesOnline, FleetSampler } from './fleet/ramp.ts';
import { type FleetReport, printTable, writeReport } from './fleet/report.ts';
import type { IngestInterval } from './fleet/telemetry.ts';
import { ingestInterval, windowsStored } from './fleet/telemetry.ts';
import { type BenchCloud, importDigitsModel, startBenchCloud } from './rollout/cloud.ts';
import { SimulatedFleetWorkers } from './rollout/fleet.ts';
import { measureRollout, type RolloutRun } from './rollout/measure.ts';
import { int8Of, mlpModel } from './rollout/model.ts';
import { mb, RssSampler, round, sleep } from './rollout/process.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEVICES_PER_WORKER = 1000;
const GB = 1024 ** 3;

const USAGE = `pnpm bench fleet [options]: N real agents against the cloud on Mosquitto + PostgreSQL
  --devices N              agents (default 1000)
  --workers W              worker processes (default ceil(N / 1000))
  --minutes M              steady state, minutes (default 2)
  --window-seconds S       telemetry window per agent (default 60)
  --fps F                  inferences per second per agent (default 0.1)
  --start-concurrency C    agents each worker starts at once (default 16)
  --rollout auto|on|off    whole-fleet rollout after the steady state (default auto: if memory allows)
  --rollout-mb-per-device  memory estimate per agent for auto (default 2)
  --rollout-hidden H       hidden width of the rolled-out MLP (default 16)
  --mem-floor-gb G         end the fleet if MemAvailable falls below (default 4)
  --timeout S              rollout timeout, seconds (default 300)
  --online-wait S          how long the cloud may take to count every agent online (default 120)
  --broker private|shared  a private Mosquitto on --broker-port (default) or MQTT_URL's
  --broker-port P          (default 18830)
  --broker-max-queued Q    the private broker's max_queued_messages (default 100000)
  --out FILE               (default bench/results/fleet.json)
database: a scratch database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test)
details: docs/scaling.md`;

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
      // Per agent during the install of this bench's small MLP (784-16-10 int8, 14 KB): 0.81 MB peak
      // fleet RSS per device at N = 1,000 (bench/rollout's 1 MB model costs 15–29 MB). `auto` rolls
      // out only when N times this fits above the memory floor.
      'rollout-mb-per-device': { type: 'string', default: '2' },
      'rollout-hidden': { type: 'string', default: '16' },
      'mem-floor-gb': { type: 'string', default: '4' },
      // Seconds the rollout may take before the run records how far it got and ends.
      timeout: { type: 'string', default: '300' },
      // Seconds the cloud may take to count every device online after the workers started them.
      'online-wait': { type: 'string', default: '120' },
      broker: { type: 'string', default: 'private' },
      'broker-port': { type: 'string', default: '18830' },
      'broker-max-queued': { type: 'string', default: '100000' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const devices = Number(values.devices);
  const workers = values.workers ? Number(values.workers) : Math.ceil(devices / DEVICES_PER_WORKER);
  const minutes = Number(values.minutes);
  const windowSeconds = Number(values['window-seconds']);
  const fps = Number(values.fps);
  const floorBytes = Number(values['mem-floor-gb']) * GB;
  const timeoutS = Number(values.timeout);
  const databaseServer = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const privateBroker = values.broker !== 'shared';
  const loadBefore = loadavg();
  const memBeforeGb = round(memAvailable() / GB, 2);
  const out = values.out ?? join(here, 'results', 'fleet.json');
  console.log(
    `fleet bench: N = ${devices} agents in ${workers} processes, telemetry every ${windowSeconds} s, ${fps} fps, ` +
      `${minutes} min steady state, ${privateBroker ? 'private' : 'shared'} broker, MemAvailable ${memBeforeGb} GB, ` +
      `load ${loadBefore.map((x) => x.toFixed(1)).join(' ')}`,
  );

  const tag = `fl${Date.now().toString(36)}`;
  let broker: PrivateBroker | undefined;
  let bench: BenchCloud | undefined;
  let database: Database | undefined;
  let fleet: SimulatedFleetWorkers | undefined;
  let scratch: Awaited<ReturnType<typeof createScratchPostgresDatabase>> | undefined;
  let sampler: FleetSampler | undefined;
  const cloudRss = new RssSampler();
  const report: FleetReport = {
    devices,
    workers,
    windowSeconds,
    fps,
    minutes,
    mqttUrl: process.env.MQTT_URL || 'mqtt://127.0.0.1:1883',
    brokerConfig: null,
    brokerLog: null,
    loadBefore,
    memBeforeGb,
    memLowestGb: memBeforeGb,
    phase: 'setup',
    error: null,
    aborted: null,
    startedSeconds: null,
    rampSeconds: null,
    onlineAfterRamp: null,
    steady: null,
    windowsStoredTotal: null,
    rollout: null,
    rolloutSkipped: null,
    timeline: [],
  };
  const guard = new MemoryGuard(floorBytes, (reason) => {
    report.aborted = reason;
    console.log(`  memory guard: ${reason}; ending the fleet processes`);
    fleet?.kill();
  });
  const save = async () => {
    report.memLowestGb = guard.lowestGb;
    report.timeline = sampler?.samples ?? [];
    if (broker) report.brokerLog = { ...broker.log, last: [...broker.log.last] };
    if (database)
      report.windowsStoredTotal = await withTimeout(windowsStored(database), 10_000).catch(() => null);
    await writeReport(out, report);
  };
  // Ended from outside (timeout(1), Ctrl-C): record the phase, end the fleet and the broker, exit.
  const onSignal = (signal: NodeJS.Signals) => {
    report.error = `ended by ${signal} during ${report.phase}`;
    console.log(`  ${report.error}`);
    fleet?.kill();
    void withTimeout(save(), 10_000)
      .catch(() => {})
      .then(() => broker?.stop())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    if (privateBroker) {
      broker = await startPrivateMosquitto(
        Number(values['broker-port']),
        Number(values['broker-max-queued']),
      );
      report.mqttUrl = broker.url;
      report.brokerConfig = broker.config;
      console.log(`  private mosquitto (pid ${broker.pid}) on ${broker.url}, config ${broker.configFile}`);
    }
    scratch = await createScratchPostgresDatabase(databaseServer);
    bench = await startBenchCloud({
      mqttUrl: report.mqttUrl,
      databaseUrl: scratch.url,
      mqttCloudSecret: randomBytes(18).toString('base64url'),
      mqttShareGroup: tag,
    });
    database = await openDatabase({ url: scratch.url, poolSize: 2 });
    const cloud = bench;
    const db = database;
    sampler = new FleetSampler(cloud, tag);
    const timeline = sampler;

    // The model is imported before the fleet exists, so the pipeline's CPU stays out of the run.
    const estimateGb = (devices * Number(values['rollout-mb-per-device'])) / 1024;
    const headroomGb = (memAvailable() - floorBytes) / GB;
    const rolloutPlanned = values.rollout === 'on' || (values.rollout === 'auto' && estimateGb < headroomGb);
    report.rolloutSkipped = rolloutPlanned
      ? null
      : values.rollout === 'off'
        ? '--rollout off'
        : `estimated ${estimateGb.toFixed(1)} GB for the installs > ${headroomGb.toFixed(1)} GB above the floor`;
    const version = rolloutPlanned
      ? await importDigitsModel(cloud, 'fleetmlp', mlpModel(Number(values['rollout-hidden']), 1))
      : undefined;

    // Ramp: workers start in parallel, each provisioning and starting its agents.
    report.phase = 'ramp';
    const rampStarted = performance.now();
    const ticker = setInterval(() => void timeline.sample(fleet).catch(() => {}), 5000);
    let started: Awaited<ReturnType<typeof SimulatedFleetWorkers.start>>;
    try {
      started = await SimulatedFleetWorkers.start({
        cloudUrl: cloud.cloud.urls.api,
        apiToken: cloud.cloud.adminToken ?? '',
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
    report.workers = fleet.workers.length;
    report.startedSeconds = round(started.seconds, 1);
    let online = await devicesOnline(cloud, tag);
    const onlineWait = Number(values['online-wait']) * 1000;
    for (
      const deadline = performance.now() + onlineWait;
      online < devices && performance.now() < deadline;
    ) {
      await sleep(1000);
      online = await devicesOnline(cloud, tag);
    }
    report.onlineAfterRamp = online;
    report.rampSeconds = round((performance.now() - rampStarted) / 1000, 1);
    console.log(
      `  ramp: workers started ${devices} agents in ${report.startedSeconds} s; cloud counts ${online} online after ${report.rampSeconds} s`,
    );
    await save();

    // One window of warm-up so every device's timer is running, then the steady state.
    report.phase = 'steady';
    await sleep(windowSeconds * 1000);
    const steadyFrom = Date.now();
    const cpuBefore = process.cpuUsage();
    const sentBefore = (await fleet.sample()).reduce((n, w) => n + w.windowsSent, 0);
    cloudRss.reset();
    const steadyEnd = performance.now() + minutes * 60_000;
    while (performance.now() < steadyEnd && !report.aborted) {
      const s = await timeline.sample(fleet);
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
    const ingest: IngestInterval = await ingestInterval(db, steadyFrom, steadyTo);
    report.steady = {
      ...ingest,
      windows_per_s_expected: round(devices / windowSeconds, 1),
      windows_sent_by_agents: sentAfter - sentBefore,
      online_at_end: await devicesOnline(cloud, tag),
      cloud_cpu_pct_of_one_core: round(
        ((cpu.user + cpu.system) / 1e6 / ((steadyTo - steadyFrom) / 1000)) * 100,
        1,
      ),
      cloud_rss_mb_peak: mb(cloudRss.peak()),
      fleet_rss_mb: timeline.samples.at(-1)?.fleet_rss_mb ?? 0,
      load_average_at_end: loadavg().map((x) => round(x, 2)),
    };
    await save();

    if (version && !report.aborted) {
      report.phase = 'rollout';
      console.log(`  rollout of fleetmlp@${version.version} to ${devices} devices (timeout ${timeoutS} s)`);
      const variant = int8Of(version);
      const rollout: RolloutRun = await measureRollout(
        cloud,
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
      report.rollout = rollout;
      console.log(
        `  rollout: ${rollout.status} ${rollout.active}/${rollout.devices} active in ${rollout.seconds_to_100pct_active} s`,
      );
    } else if (!report.rolloutSkipped) report.rolloutSkipped = report.aborted;
    report.phase = 'done';
  } catch (err) {
    report.error = `${report.phase}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    console.log(`  failed in ${report.phase}: ${String(err)}`);
  } finally {
    await save().catch((err: unknown) => console.log(`  could not write ${out}: ${String(err)}`));
    if (report.steady) printTable(report);
    if (report.error) console.log(`run error: ${report.error.split('\n')[0]}`);
    console.log(
      `load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}\nwrote ${out}`,
    );
    // Shutdown, each step bounded: a stuck step must not keep the machine's other users waiting. A
    // cloud that did not close in time still has database connections, which throw (postgres.js,
    // "reading 'write'" of a null socket) when the scratch database is dropped under them: logged,
    // so the remaining steps (the private broker's stop among them) still run.
    const onUncaught = (err: Error) => console.log(`  during shutdown: ${err.message}`);
    process.on('uncaughtException', onUncaught);
    await step('fleet stop', () => fleet?.stop(), 60_000);
    fleet?.kill();
    guard.stop();
    cloudRss.stop();
    await step('cloud close', () => bench?.close(), 30_000);
    if (database && !broker) {
      const db = database;
      const ids = (await db.db.execute('select id from devices').catch(() => [])) as unknown as {
        id: string;
      }[];
      await step(
        'broker clean-up',
        async () => {
          const cleared = await cleanUpBroker(
            report.mqttUrl,
            bench?.dir ?? '',
            Array.from(ids, (r) => r.id),
          );
          console.log(`  cleared ${cleared} retained topics on ${report.mqttUrl}`);
        },
        60_000,
      );
    }
    await step('broker stop', () => broker?.stop(), 10_000);
    await step('database close', () => database?.close(), 10_000);
    await step('scratch drop', () => scratch?.drop(), 30_000);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Whatever handle a stuck step left behind must not keep the process alive.
    setTimeout(() => process.exit(report.error ? 1 : 0), 2000).unref();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function step(name: string, fn: () => Promise<unknown> | undefined, ms: number): Promise<void> {
  try {
    await withTimeout(Promise.resolve(fn()), ms);
  } catch (err) {
    console.log(`  ${name}: ${String(err)}`);
  }
}
