// `pnpm bench api [--seconds N] [--concurrency N]`: throughput and latency of the device-list route
// (10,000 devices, page of 100, a viewer token checked on every request) next to a bare Hono route
// served the same way in the same run, on each database driver (PGlite always, PostgreSQL when
// DATABASE_URL is set). The load comes from a worker thread of this process, so client and server
// share the machine's cores: absolute numbers are conservative, the ratio to bare Hono travels.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import {
  ApiTokenStore,
  createApiApp,
  DeviceRegistry,
  type HttpServerHandle,
  schema,
  silentLogger,
  startHttpServer,
  testDatabases,
} from '@edgeloop/cloud';
import { Hono } from 'hono';

const DEVICES = 10_000;
const PAGE = 100;
const TARGET_P99_MS = 50;

interface LoadResult {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

/** `concurrency` keep-alive connections issuing requests back to back, from a worker thread. */
async function load(url: string, headers: Record<string, string>, seconds: number, concurrency: number) {
  const worker = new Worker(new URL('./_load-worker.mjs', import.meta.url), {
    workerData: { url, headers, seconds, concurrency, warmupMs: 1000 },
  });
  const { latencies, errors, elapsedS } = await new Promise<{
    latencies: number[];
    errors: number;
    elapsedS: number;
  }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const pct = (p: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  return {
    requests: latencies.length,
    rps: Math.round(latencies.length / elapsedS),
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    errors,
  } satisfies LoadResult;
}

const round = (n: number) => Math.round(n * 100) / 100;

async function seed(db: Parameters<typeof createApiApp>[0]['db']) {
  await db.insert(schema.deviceGroups).values([{ name: 'line-a' }, { name: 'line-b' }]);
  for (let start = 0; start < DEVICES; start += 1000) {
    await db.insert(schema.devices).values(
      Array.from({ length: 1000 }, (_, i) => {
        const n = start + i;
        return {
          id: `cam-${String(n).padStart(5, '0')}`,
          deviceClass: n % 4 === 0 ? 'raspberry-pi-4' : 'simulated',
          groupName: n % 2 === 0 ? 'line-a' : 'line-b',
          tags: n % 3 === 0 ? ['night', 'site:berlin'] : ['site:berlin'],
          connection: n % 5 === 0 ? ('offline' as const) : ('online' as const),
          lastSeenAt: new Date(),
        };
      }),
    );
  }
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '1,8' } },
  });
  const seconds = Number(values.seconds);
  const levels = String(values.concurrency).split(',').map(Number);

  const bare = new Hono().get('/bare', (c) => c.json({ ok: true }));
  const bareServer = await startHttpServer(bare.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });

  const runs = [];
  try {
    for (const target of testDatabases()) {
      const database = await target.open();
      let api: HttpServerHandle | undefined;
      try {
        await seed(database.db);
        const app = createApiApp({
          db: database.db,
          identity: new DeviceRegistry({
            db: database.db,
            deviceClasses: async () => new Set(['simulated', 'raspberry-pi-4']),
            cloudAccount: { secret: 'bench-cloud-secret-0123456789' },
          }),
          brokerUrls: {},
          readiness: {},
          logger: silentLogger,
          bodyLimit: 1024 * 1024,
        });
        const { token } = await new ApiTokenStore(database.db).create({ name: 'bench', role: 'viewer' });
        api = await startHttpServer(app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
        const auth = { authorization: `Bearer ${token}` };

        // Bare Hono is measured right before each device-list run, so both see the same machine state.
        for (const concurrency of levels) {
          const bareHono = await load(`${bareServer.url}/bare`, {}, seconds, concurrency);
          const deviceList = await load(
            `${api.url}/api/v1/devices?limit=${PAGE}`,
            auth,
            seconds,
            concurrency,
          );
          const filtered = await load(
            `${api.url}/api/v1/devices?limit=${PAGE}&group=line-a&tag=night&status=online`,
            auth,
            seconds,
            concurrency,
          );
          runs.push({
            driver: target.name,
            concurrency,
            bare_hono: bareHono,
            device_list: deviceList,
            device_list_filtered: filtered,
            ratio_vs_bare_hono: round(deviceList.rps / bareHono.rps),
            target_p99_ms: TARGET_P99_MS,
            meets_target: deviceList.p99_ms < TARGET_P99_MS && deviceList.errors === 0,
          });
        }
      } finally {
        await api?.close(1000);
        await database.close();
      }
    }
  } finally {
    await bareServer.close(1000);
  }

  const result = {
    benchmark: 'api',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    devices: DEVICES,
    page: PAGE,
    seconds,
    load_average: loadavg().map(round),
    note: 'load from a worker thread over loopback keep-alive; device list = first page of 100 with total, viewer token checked per request',
    runs,
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'api.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);

  const rows = runs.flatMap((r) =>
    (
      [
        ['bare hono', r.bare_hono],
        ['device list', r.device_list],
        ['device list, filtered', r.device_list_filtered],
      ] as const
    ).map(([name, m]) => [r.driver, r.concurrency, name, m.rps, m.p50_ms, m.p99_ms, m.errors]),
  );
  console.log(
    `api bench: ${DEVICES} devices, page ${PAGE}, ${seconds} s per measurement, load ${loadavg()[0]?.toFixed(1)}`,
  );
  const widths = [10, 6, 23, 8, 8, 8, 7];
  const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padEnd(widths[i] ?? 8)).join('');
  console.log(line(['driver', 'conns', 'route', 'req/s', 'p50 ms', 'p99 ms', 'errors']));
  for (const row of rows) console.log(line(row));
  for (const r of runs) {
    console.log(
      `${r.driver}, ${r.concurrency} conns: device list / bare hono = ${r.ratio_vs_bare_hono}; p99 ${r.device_list.p99_ms} ms ` +
        `(target < ${TARGET_P99_MS} ms: ${r.meets_target ? 'met' : 'MISSED'})`,
    );
  }
  console.log(`wrote ${out}`);
}
