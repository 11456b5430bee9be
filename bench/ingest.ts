// `pnpm bench ingest [--windows N] [--devices N] [--lag-seconds S] [--stacks a,b] [--cpu-prof DIR]`:
// telemetry ingestion through a
// real broker into a real database, next to a bare MQTT subscriber on the same broker in the same
// run, for Mosquitto + PostgreSQL (MQTT_URL / DATABASE_URL, defaulting to the local servers) and
// aedes + PGlite. Per stack:
//
//   1. write paths: rows/s of the chosen batch insert (one JSON parameter into json_to_recordset)
//      against one text[] per column into unnest (the previous path), drizzle's plain multi-row
//      VALUES, and COPY + INSERT ... ON CONFLICT on PostgreSQL;
//   2. saturation: N windows from simulated devices, first to a bare QoS 1 subscriber, then through
//      the bridge + ingestor into the database (counted once stored); publishers are closed-loop
//      (at most OUTSTANDING windows sent but not yet consumed) so the broker's per-client queue
//      (Mosquitto's max_queued_messages, 1000 by default) never drops a message; the bare
//      subscriber subscribes to the run's devices only, the ingest bridge to all telemetry (as in
//      production), so on a busy shared broker ingest also carries others' traffic;
//   3. lag: windows published at 50% of the measured ingest rate; end-to-end lag is the time from
//      a window's publish to the ingestor counting it stored (10 ms polling).
//
// Client, broker (aedes), database (PGlite) and ingest share one process on a 2-core machine:
// absolute rates are conservative; the ratio to the bare subscriber is the number that travels.
//
// Methodology notes:
// - Bare and ingest run one after the other, so on a shared machine a load swing between the two
//   phases moves the ratio (seen here: 0.14 to 1.2 for the same code at load averages 3-30). Each
//   stack therefore also reports this process's CPU time per message in both phases
//   (`*_process_cpu_us_per_*`, process.cpuUsage) and their quotient, `cpu_ratio_vs_bare_subscriber`.
//   For aedes + PGlite that is the whole pipeline; for Mosquitto + PostgreSQL it leaves out the
//   broker and the database server (separate processes). Compare runs by the load average printed.
// - Fairness: same broker, same window count and payloads, publishers and OUTSTANDING limit for both;
//   the bare subscriber is QoS 1 like the bridge and acknowledges each message in mqtt.js' default
//   handler, i.e. the same one-message-at-a-time receive path without the cloud's work on it.
// - Rates end when the count last moved (watchProgress): if the broker drops messages (Mosquitto
//   2.0.11 here logged "Outgoing messages are being dropped" for both subscribers even below its
//   queue limit), the publisher's 3 s wait for progress is not counted; `*_lost_at_broker` says so.
//   CPU per message still includes that wait's (idle) time, which costs next to nothing.
// - Ingest is counted once stored (the ingestor's `stored` counter), so its rate includes the last
//   batch's flush wait (up to flushIntervalMs, 100 ms) and write; the bare rate ends on receipt.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type CloudMqttConnection,
  connectCloudMqtt,
  type Database,
  DeviceRegistry,
  type EmbeddedBroker,
  schema,
  silentLogger,
  startEmbeddedBroker,
  startTelemetryIngestion,
  testDatabases,
  type WritePath,
  windowRow,
  writeWithPath,
} from '@edgeloop/cloud';
import { type TelemetryWindow, topics } from '@edgeloop/shared';
import { SimulatedFleet } from './ingest/simulated-fleet.ts';

// Below Mosquitto's default per-client queue (1000) with room for other traffic on a shared broker.
const OUTSTANDING = 400;
const PUBLISHERS = 4;
const CLOUD_SECRET = `bench-${randomBytes(8).toString('hex')}`;
const TARGET_RATIO = 0.5;
const TARGET_LAG_P99_MS = 2000;

interface Stack {
  name: string;
  database: Database;
  mqttUrl: string;
  auth: { username?: string; password?: string };
  broker?: EmbeddedBroker;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
/** This process's CPU time (user + system) since `since`, per message, in µs. */
const cpuPerMessage = (since: NodeJS.CpuUsage, messages: number) => {
  const { user, system } = process.cpuUsage(since);
  return round((user + system) / Math.max(1, messages));
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function publishers(stack: Stack): Promise<CloudMqttConnection[]> {
  return Promise.all(
    Array.from({ length: PUBLISHERS }, () => connectCloudMqtt({ url: stack.mqttUrl, ...stack.auth })),
  );
}

/**
 * Publishes `count` windows as fast as the consumer keeps up (never more than OUTSTANDING ahead of
 * `consumed()`), or at `rate` per second. Returns each window's publish time, in order.
 */
async function publish(
  fleet: SimulatedFleet,
  conns: CloudMqttConnection[],
  count: number,
  consumed: () => number,
  rate?: number,
): Promise<number[]> {
  const sentAt: number[] = [];
  const started = performance.now();
  const base = consumed();
  let k = 0;
  let progress = consumed();
  let progressAt = performance.now();
  while (sentAt.length < count) {
    // A broker that dropped messages leaves the consumer behind for good: stop rather than wait.
    if (consumed() !== progress) {
      progress = consumed();
      progressAt = performance.now();
    } else if (performance.now() - progressAt > 3_000) {
      break;
    }
    const allowedByRate =
      rate === undefined ? count : Math.floor(((performance.now() - started) / 1000) * rate);
    const allowed = Math.min(count, allowedByRate, consumed() - base + OUTSTANDING);
    if (sentAt.length >= allowed) {
      await sleep(rate === undefined ? 1 : 5);
      continue;
    }
    while (sentAt.length < allowed) {
      const { deviceId, payload } = fleet.window();
      sentAt.push(performance.now());
      const conn = conns[k++ % conns.length] as CloudMqttConnection;
      void conn.publish(topics.telemetry(deviceId), payload, { qos: 1, retain: false });
    }
    await sleep(0);
  }
  return sentAt;
}

/**
 * Waits until `count()` reaches `target` or stops moving for `quietMs` (a broker dropped messages),
 * and returns the final count and when it last moved.
 */
async function settle(
  count: () => number | Promise<number>,
  target: number,
  quietMs = 3_000,
): Promise<{ count: number; lastAt: number }> {
  let last = await count();
  let lastAt = performance.now();
  while (last < target && performance.now() - lastAt < quietMs) {
    await sleep(10);
    const now = await count();
    if (now !== last) {
      last = now;
      lastAt = performance.now();
    }
  }
  return { count: last, lastAt };
}

/**
 * Polls `count()` every 10 ms in the background and remembers when it last moved. A phase's rate is
 * taken up to that moment: when the broker drops messages the publisher waits 3 s for progress
 * that never comes before giving up, and that wait is not the consumer's throughput.
 */
function watchProgress(count: () => number | Promise<number>) {
  let value: number | undefined;
  let movedAt = performance.now();
  let watching = true;
  const loop = (async () => {
    while (watching) {
      const now = await count();
      if (now !== value) {
        value = now;
        movedAt = performance.now();
      }
      await sleep(10);
    }
  })();
  return {
    /** Stops watching; returns when the count last moved. */
    async stop(): Promise<number> {
      watching = false;
      await loop;
      return movedAt;
    },
  };
}

async function measureWritePaths(
  stack: Stack,
  rows: number,
): Promise<{ rowsPerS: Record<string, number>; cpuUsPerRow: Record<string, number> }> {
  const paths: WritePath[] =
    stack.database.driver === 'postgres'
      ? ['json_recordset', 'unnest_arrays', 'multi_row_values', 'copy_then_insert']
      : ['json_recordset', 'unnest_arrays', 'multi_row_values'];
  const fleet = new SimulatedFleet(`wp-${randomBytes(3).toString('hex')}`, 200);
  const rowsPerS: Record<string, number> = {};
  const cpuUsPerRow: Record<string, number> = {};
  for (const path of paths) {
    await stack.database.db.delete(schema.telemetryWindows);
    const batches = Array.from({ length: rows / 500 }, () =>
      Array.from({ length: 500 }, () => {
        const w = fleet.window();
        return windowRow(w.deviceId, JSON.parse(w.payload) as TelemetryWindow, new Date());
      }),
    );
    const started = performance.now();
    const cpu = process.cpuUsage();
    let stored = 0;
    for (const batch of batches) stored += await writeWithPath(path, stack.database.db, batch);
    rowsPerS[path] = Math.round(stored / ((performance.now() - started) / 1000));
    // This process only: for PGlite the whole write, for PostgreSQL the client side of it.
    cpuUsPerRow[path] = cpuPerMessage(cpu, stored);
  }
  await stack.database.db.delete(schema.telemetryWindows);
  return { rowsPerS, cpuUsPerRow };
}

async function measureBare(
  stack: Stack,
  fleet: SimulatedFleet,
  windows: number,
  cpuProf?: string,
): Promise<{ msgsPerS: number; lostAtBroker: number; cpuUsPerMsg: number }> {
  const subscriber = await connectCloudMqtt({ url: stack.mqttUrl, ...stack.auth });
  let received = 0;
  const ours = `/${fleet.ids[0]?.replace(/-\d+$/, '')}-`;
  subscriber.client.on('message', (topic) => {
    if (topic.includes(ours)) received++;
  });
  // Our devices only: on a shared broker, other processes' telemetry would fill this client's queue.
  await subscriber.subscribe(
    fleet.ids.map((id) => topics.telemetry(id)),
    1,
  );
  const conns = await publishers(stack);
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const progress = watchProgress(() => received);
    const done = await profiled(cpuProf, `${stack.name}-bare`, async () => {
      await publish(fleet, conns, windows, () => received);
      return settle(() => received, windows);
    });
    const lastMovedAt = await progress.stop();
    return {
      msgsPerS: Math.round(done.count / ((lastMovedAt - started) / 1000)),
      lostAtBroker: windows - done.count,
      cpuUsPerMsg: cpuPerMessage(cpu, done.count),
    };
  } finally {
    await Promise.all([...conns, subscriber].map((c) => c.close()));
  }
}

/** With `--cpu-prof DIR`: a V8 CPU profile of one phase, written to DIR/<name>.cpuprofile. */
async function profiled<T>(dir: string | undefined, name: string, phase: () => Promise<T>): Promise<T> {
  if (!dir) return phase();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}

async function measureIngest(
  stack: Stack,
  fleet: SimulatedFleet,
  windows: number,
  lagSeconds: number,
  cpuProf?: string,
) {
  const connection = await connectCloudMqtt({ url: stack.mqttUrl, ...stack.auth });
  const ingestion = await startTelemetryIngestion({
    db: stack.database.db,
    connection,
    logger: silentLogger,
    // Unique share group: other processes on the same Mosquitto must not take our windows.
    bridge: { republishOnStart: false, shareGroup: `bench${randomBytes(4).toString('hex')}` },
    rollup: { intervalMs: 3_600_000 },
  });
  let offered = 0;
  ingestion.bridge.on('telemetry', () => {
    offered++;
  });
  // A shared broker holds other runs' retained status/reported messages; the bridge refuses them
  // (unknown devices) on subscribe. Let that backlog drain before measuring.
  let rejected = 0;
  ingestion.bridge.on('rejected', () => {
    rejected++;
  });
  await sleep(500);
  await settle(() => rejected, Number.POSITIVE_INFINITY, 1_500);
  const stored = async () =>
    (await ingestion.registry.getSingleMetric('edgeloop_ingest_windows_total')?.get())?.values.find(
      (v) => v.labels.outcome === 'stored',
    )?.value ?? 0;
  const conns = await publishers(stack);
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const progress = watchProgress(stored);
    const done = await profiled(cpuProf, `${stack.name}-ingest`, async () => {
      await publish(fleet, conns, windows, () => offered);
      return settle(stored, windows);
    });
    const lastMovedAt = await progress.stop();
    const rate = done.count / ((lastMovedAt - started) / 1000);
    const cpuUsPerWindow = cpuPerMessage(cpu, done.count);
    const lostAtBroker = windows - done.count;

    // Lag at half the saturation rate: record when the stored count passes each window.
    const offeredRate = rate / 2;
    const count = Math.round(offeredRate * lagSeconds);
    const base = await stored();
    const offeredBase = offered;
    const storedAt: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const now = performance.now();
        const n = (await stored()) - base;
        while (storedAt.length < Math.min(n, count)) storedAt.push(now);
        await sleep(10);
      }
    })();
    const sentAt = await publish(fleet, conns, count, () => offered, offeredRate);
    await settle(() => storedAt.length, count);
    polling = false;
    await poller;
    // Windows are stored in arrival order per batch; the k-th stored is (close to) the k-th sent.
    // A window the broker dropped has no stored time: lags are over what arrived.
    const lags = sentAt
      .slice(0, storedAt.length)
      .map((t, k) => (storedAt[k] as number) - t)
      .sort((a, b) => a - b);
    const pct = (p: number) => round(lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? 0);
    const n = await stack.database.db.$count(schema.telemetryWindows);
    return {
      ingest_windows_per_s: Math.round(rate),
      ingest_lost_at_broker: lostAtBroker,
      ingest_process_cpu_us_per_window: cpuUsPerWindow,
      stored_rows: Number(n),
      lag: {
        offered_windows_per_s: Math.round(offeredRate),
        windows: count,
        arrived: offered - offeredBase,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: round(lags[lags.length - 1] ?? 0),
        target_p99_ms: TARGET_LAG_P99_MS,
      },
    };
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await ingestion.stop();
    await connection.close();
  }
}

async function openStacks(): Promise<Array<[string, () => Promise<Stack>]>> {
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const mqttUrl = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883';
  const dbs = testDatabases({ ...process.env, DATABASE_URL: databaseUrl });
  const pglite = dbs.find((d) => d.name === 'pglite');
  const postgres = dbs.find((d) => d.name === 'postgres');
  return [
    [
      'mosquitto+postgres',
      async () => ({
        name: 'mosquitto+postgres',
        database: await (postgres as { open(): Promise<Database> }).open(),
        mqttUrl,
        auth: {},
      }),
    ],
    [
      'aedes+pglite',
      async () => {
        const database = await (pglite as { open(): Promise<Database> }).open();
        const identity = new DeviceRegistry({
          db: database.db,
          deviceClasses: async () => new Set(['simulated']),
          cloudAccount: { secret: CLOUD_SECRET },
        });
        const broker = await startEmbeddedBroker({ authenticator: identity, port: 0 });
        return {
          name: 'aedes+pglite',
          database,
          broker,
          mqttUrl: broker.url,
          auth: { username: 'edgeloop-cloud', password: CLOUD_SECRET },
        };
      },
    ],
  ];
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      windows: { type: 'string', default: '20000' },
      devices: { type: 'string', default: '200' },
      'lag-seconds': { type: 'string', default: '8' },
      'write-rows': { type: 'string', default: '10000' },
      /** Comma-separated stack names (default: all). */
      stacks: { type: 'string' },
      /** Directory for V8 CPU profiles of the bare and ingest saturation phases. */
      'cpu-prof': { type: 'string' },
    },
  });
  const windows = Number(values.windows);
  const deviceCount = Number(values.devices);
  const lagSeconds = Number(values['lag-seconds']);
  const writeRows = Math.max(500, Math.round(Number(values['write-rows']) / 500) * 500);
  console.log(
    `ingest bench: ${windows} windows from ${deviceCount} devices, lag at 50% for ${lagSeconds} s, load ${loadavg()[0]?.toFixed(1)}`,
  );
  const only = values.stacks?.split(',');
  const cpuProf = values['cpu-prof'];
  const stacks: unknown[] = [];
  for (const [name, openStack] of await openStacks()) {
    if (only && !only.includes(name)) continue;
    let stack: Stack | undefined;
    try {
      stack = await openStack();
      const phase = (what: string) => console.log(`  ${(stack as Stack).name}: ${what}`);
      const prefix = `b${randomBytes(3).toString('hex')}`;
      const fleet = new SimulatedFleet(prefix, deviceCount);
      await stack.database.db
        .insert(schema.devices)
        .values(fleet.ids.map((id) => ({ id, deviceClass: 'simulated' })));
      phase('write paths');
      const { rowsPerS: writePaths, cpuUsPerRow: writeCpu } = await measureWritePaths(stack, writeRows);
      phase('bare subscriber');
      const bare = await measureBare(stack, new SimulatedFleet(prefix, deviceCount), windows, cpuProf);
      phase('ingest');
      const ingest = await measureIngest(stack, fleet, windows, lagSeconds, cpuProf);
      const entry = {
        name: stack.name,
        database: stack.database.driver,
        bare_subscriber_msgs_per_s: bare.msgsPerS,
        bare_lost_at_broker: bare.lostAtBroker,
        bare_process_cpu_us_per_msg: bare.cpuUsPerMsg,
        ...ingest,
        ratio_vs_bare_subscriber: round(ingest.ingest_windows_per_s / bare.msgsPerS, 2),
        // Load-independent companion to the ratio: this process's CPU per message, bare over ingest.
        cpu_ratio_vs_bare_subscriber: round(bare.cpuUsPerMsg / ingest.ingest_process_cpu_us_per_window, 2),
        target_ratio: TARGET_RATIO,
        write_paths_rows_per_s: writePaths,
        write_paths_process_cpu_us_per_row: writeCpu,
        chosen_write_path: 'json_recordset',
        chosen_vs_plain_batched: round(
          (writePaths.json_recordset ?? 0) / (writePaths.multi_row_values ?? 1),
          2,
        ),
      };
      stacks.push(entry);
      console.log(
        `${entry.name.padEnd(20)} bare ${bare.msgsPerS}/s  ingest ${ingest.ingest_windows_per_s}/s  ratio ${entry.ratio_vs_bare_subscriber}  ` +
          `cpu/msg bare ${bare.cpuUsPerMsg} µs ingest ${ingest.ingest_process_cpu_us_per_window} µs  ` +
          `lag p50 ${ingest.lag.p50_ms} ms p99 ${ingest.lag.p99_ms} ms @ ${ingest.lag.offered_windows_per_s}/s  ` +
          `writes ${JSON.stringify(writePaths)}`,
      );
    } catch (err) {
      console.log(`${stack?.name ?? 'stack'}: skipped (${err instanceof Error ? err.message : String(err)})`);
      stacks.push({ name: stack?.name, skipped: String(err) });
    } finally {
      await stack?.broker?.close();
      await stack?.database.close();
    }
  }
  const result = {
    bench: 'ingest',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, load_average: loadavg().map((x) => round(x, 2)) },
    windows,
    devices: deviceCount,
    outstanding_limit: OUTSTANDING,
    stacks,
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'ingest.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
