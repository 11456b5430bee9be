// The dashboard's fleet-health views in headless Chromium: the open-alerts panel on the overview and
// the drift page, against the real API app and dashboard routes on a PGlite database seeded the way
// the cloud fills it (devices, drift reports as the DriftMonitor stores them), with the alerts
// opened by the real AlertEvaluator. Lighter than dashboard.test.ts (no training, no fleet), so the
// drift history can be exactly what the assertions expect. Screenshots go to
// test-results/dashboard-alerts.png and dashboard-drift.png.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AlertEvaluator,
  ApiTokenStore,
  createApiApp,
  type Database,
  DeviceRegistry,
  dashboardRoutes,
  type HttpServerHandle,
  insertDriftReports,
  JobRunner,
  ModelJobs,
  ModelPipeline,
  openModelRegistry,
  RetrainOrchestrator,
  RolloutService,
  requestBaseline,
  schema,
  silentLogger,
  startHttpServer,
  testDatabases,
} from '@edgeloop/cloud';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';

const RESULTS = new URL('../../test-results/', import.meta.url);
const MIN = 60_000;

let chromium: LaunchedBrowser;
let context: BrowserContext;
let database: Database;
let http: HttpServerHandle;
let dataDir: string;
let token: string;
let evaluator: AlertEvaluator;

/** digits v1 on raspberry-pi-4 drifting over 40 minutes: brightness first, then contrast. */
function driftHistory(now: number) {
  const steps = [
    { state: 'ok', brightness: 0.02, contrast: 0.01 },
    { state: 'ok', brightness: 0.05, contrast: 0.02 },
    { state: 'warn', brightness: 0.12, contrast: 0.03 },
    { state: 'warn', brightness: 0.19, contrast: 0.08 },
    { state: 'alert', brightness: 0.31, contrast: 0.14 },
    { state: 'alert', brightness: 0.42, contrast: 0.23 },
  ] as const;
  return [
    ...steps.map((s, i) => ({
      model: 'digits',
      version: 1,
      scope: 'raspberry-pi-4',
      state: s.state,
      psi: { brightness: s.brightness, contrast: s.contrast, sharpness: 0.01 },
      at: new Date(now - (steps.length - i) * 5 * MIN),
    })),
    ...[0, 1, 2].map((i) => ({
      model: 'digits',
      version: 1,
      scope: 'simulated',
      state: 'ok' as const,
      psi: { brightness: 0.01 + i * 0.01, contrast: 0.02 },
      at: new Date(now - (3 - i) * 5 * MIN),
    })),
  ];
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: new URL(`dashboard-${name}.png`, RESULTS).pathname, fullPage: true });

describeInBrowser('the dashboard alerts panel and drift page', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'el-dashboard-health-'));
    [chromium, database] = await Promise.all([
      launchChromium(),
      (testDatabases()[0] as { open(): Promise<Database> }).open(),
      mkdir(RESULTS, { recursive: true }),
    ]);
    const db = database.db;
    const { registry, store, keys } = await openModelRegistry({ db, dataDir });
    const jobs = new ModelJobs(new ModelPipeline({ registry, store }), new JobRunner({ db }));
    const app = createApiApp({
      db,
      identity: new DeviceRegistry({
        db,
        deviceClasses: async () => new Set(['raspberry-pi-4', 'simulated']),
        cloudAccount: { secret: 'dashboard-health-secret' },
      }),
      brokerUrls: {},
      readiness: {},
      logger: silentLogger,
      bodyLimit: 64 * 1024,
      models: {
        registry,
        store,
        publicKeys: () => [keys.publicKey],
        jobs,
        deviceProfiles: async () => new Map(),
      },
      // The overview reads the last retraining run (none here); never ticked.
      retraining: new RetrainOrchestrator({
        database,
        registry,
        artifacts: store,
        jobs,
        rollouts: new RolloutService({ db, registry, profiles: async () => new Map() }),
        autoTick: false,
      }),
    });
    app.route('/', dashboardRoutes());
    http = await startHttpServer(app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
    token = (await new ApiTokenStore(db).create({ name: 'dashboard', role: 'viewer' })).token;

    const now = Date.now();
    await db.insert(schema.models).values({ name: 'digits', classes: ['0', '1'] });
    await db.insert(schema.devices).values([
      ...[1, 2, 3].map((i) => ({
        id: `cam-${i}`,
        deviceClass: 'raspberry-pi-4',
        connection: 'online' as const,
      })),
      ...[4, 5].map((i) => ({
        id: `cam-${i}`,
        deviceClass: 'raspberry-pi-4',
        connection: 'offline' as const,
        lastSeenAt: new Date(now - 20 * MIN),
      })),
    ]);
    await insertDriftReports(db, driftHistory(now));
    evaluator = new AlertEvaluator({ db, intervalMs: 0 });
    const tick = await evaluator.tick();
    expect(tick.ran && tick.opened.map((a) => a.key).sort()).toEqual([
      'devices_offline:device_class:raspberry-pi-4',
      'drift:digits:1:device_class:raspberry-pi-4',
    ]);
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await http?.close(0);
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows open alerts newest first with their severity, live, and drift per feature over time', async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${http.url}/dashboard#token=${token}`);
    await page.waitForSelector('body[data-state=ready][data-page=overview] [data-testid=alert-rows]', {
      timeout: 15_000,
    });
    const rows = () =>
      page.$$eval('[data-testid=alert-rows] tbody tr', (trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)),
      );
    const first = await rows();
    expect(first.map((r) => r[0]).sort()).toEqual(['warning', 'warning']);
    expect(first.map((r) => r[2]).sort()).toEqual([
      '2 of 5 devices of device class raspberry-pi-4 (40%) offline for over 5 min',
      'digits v1 drifted on device class raspberry-pi-4: brightness (PSI 0.42), contrast (PSI 0.23)',
    ]);
    const warningColour = await page.$eval(
      '[data-testid=alert-rows] .pill.warning',
      (el) => getComputedStyle(el).backgroundColor,
    );
    expect(warningColour).toBe('rgb(242, 177, 76)');

    // A third device of the class is down: the next poll shows the alert escalated to critical.
    await database.db.insert(schema.devices).values({
      id: 'cam-6',
      deviceClass: 'raspberry-pi-4',
      connection: 'offline',
      lastSeenAt: new Date(Date.now() - 20 * MIN),
    });
    await evaluator.tick();
    await page.waitForSelector('[data-testid=alert-rows] .pill.critical', { timeout: 12_000 });
    expect((await rows()).find((r) => r[0] === 'critical')?.[2]).toContain('3 of 6 devices');
    expect(
      await page.$eval(
        '[data-testid=alert-rows] .pill.critical',
        (el) => getComputedStyle(el).backgroundColor,
      ),
    ).toBe('rgb(240, 106, 106)');
    await screenshot(page, 'alerts');

    // A slice collecting its new normal is listed above the reports.
    await requestBaseline(database.db, {
      model: 'digits',
      version: 1,
      scopeKind: 'device_class',
      scope: 'simulated',
      targetSamples: 400,
      reason: 'new lens',
      requestedBy: 'ops',
    });
    await page.evaluate(() => {
      location.hash = '#/drift';
    });
    await page.waitForSelector('body[data-state=ready][data-page=drift] [data-testid=drift-summary]', {
      timeout: 15_000,
    });
    const summaries = await page.$$eval('[data-testid=drift-summary]', (ps) => ps.map((p) => p.textContent));
    // The drifting slice first, its most drifted features named.
    expect(summaries).toEqual([
      'alert 6 evaluations, latest on 500 samples. Most drifted: brightness (PSI 0.42), contrast (PSI 0.23)',
      'ok 3 evaluations, latest on 500 samples. No feature drifted in the latest evaluation.',
    ]);
    const charts = await page.$$eval('svg.multi-line-chart', (svgs) =>
      svgs.map((s) => ({
        label: s.getAttribute('aria-label'),
        points: Number(s.getAttribute('data-points')),
        series: Array.from(s.querySelectorAll('path[data-series]'), (p) => p.getAttribute('data-series')),
      })),
    );
    expect(charts).toEqual([
      {
        label: 'PSI per feature — digits v1 raspberry-pi-4',
        points: 18,
        series: ['brightness', 'contrast', 'sharpness'],
      },
      { label: 'PSI per feature — digits v1 simulated', points: 6, series: ['brightness', 'contrast'] },
    ]);
    const states = await page.$$eval('svg.timeline-chart', (svgs) =>
      svgs.map((s) =>
        Array.from(s.querySelectorAll('rect[data-state]'), (r) => r.getAttribute('data-state')),
      ),
    );
    expect(states).toEqual([
      ['ok', 'ok', 'warn', 'warn', 'alert', 'alert'],
      ['ok', 'ok', 'ok'],
    ]);
    const baselines = await page.$$eval('[data-testid=drift-baselines] tbody tr', (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)),
    );
    expect(baselines).toEqual([['digits v1', 'class simulated', 'collecting 0/400', 'ops', 'new lens']]);
    await screenshot(page, 'drift');
    expect(errors).toEqual([]);
  }, 60_000);
});
