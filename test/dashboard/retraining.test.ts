// The dashboard's retraining page in headless Chromium, against the real API app and dashboard
// routes on a PGlite database: runs written through the orchestrator's own store in the states that
// matter (training with live progress, canary, rejected by the gates, failed, promoted), policies,
// and fleet samples with real tensors. No training: the run states are seeded, so the assertions can
// be exact. Checks the runs table, live progress, the gate verdict and lineage, the policy summary,
// the samples counts and preview grid, labelling through the page (stored in the database) and the
// refusal a viewer token gets. Screenshot: test-results/dashboard-retraining.png.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiTokenStore,
  createApiApp,
  type Database,
  DeviceRegistry,
  dashboardRoutes,
  type HttpServerHandle,
  JobRunner,
  ModelJobs,
  ModelPipeline,
  openModelRegistry,
  RetrainOrchestrator,
  RolloutService,
  schema,
  silentLogger,
  startHttpServer,
  testDatabases,
} from '@edgeloop/cloud';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';
import {
  CLASSES,
  DRIFT,
  evaluation,
  LINEAGE,
  MIN,
  PASSED,
  REJECTED,
  registration,
  SIDE,
  sampleRow,
} from './retraining-fixtures.ts';

const RESULTS = new URL('../../test-results/', import.meta.url);

let chromium: LaunchedBrowser;
let context: BrowserContext;
let database: Database;
let http: HttpServerHandle;
let jobs: JobRunner;
let dataDir: string;
let operatorToken: string;
let viewerToken: string;
let orchestrator: RetrainOrchestrator;
/** The orchestrator's clock: runs are written at chosen times, so "newest first" is known. */
let clock = Date.now();
const runIds: Record<string, string> = {};

/** Writes a run the way the orchestrator does: inserted queued at `at`, then patched. */
async function seedRun(
  key: string,
  at: number,
  run: { model: string; trigger: 'drift' | 'manual'; triggerDetail: object; createdBy: string },
  patch: Parameters<RetrainOrchestrator['store']['updateRun']>[1],
): Promise<void> {
  const id = `rt-${key}`;
  clock = at;
  await orchestrator.store.insertRun(database.db, { id, ...run });
  clock = at + 2 * MIN;
  await orchestrator.store.updateRun(id, patch);
  runIds[key] = id;
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

async function open(token: string, hash: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${http.url}/dashboard#token=${token}`);
  await page.waitForSelector('body[data-state=ready][data-page=overview]', { timeout: 15_000 });
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  return page;
}

const cells = (page: Page, testid: string) =>
  page.$$eval(`[data-testid=${testid}] tbody tr`, (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent?.trim())),
  );

const sampleRows = () => database.db.select().from(schema.fleetSamples).orderBy(schema.fleetSamples.id);

describeInBrowser('the dashboard retraining page', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'el-dashboard-retraining-'));
    [chromium, database] = await Promise.all([
      launchChromium(),
      (testDatabases()[0] as { open(): Promise<Database> }).open(),
      mkdir(RESULTS, { recursive: true }),
    ]);
    const db = database.db;
    const { registry, store, keys } = await openModelRegistry({ db, dataDir });
    jobs = new JobRunner({ db });
    const modelJobs = new ModelJobs(new ModelPipeline({ registry, store }), jobs);
    orchestrator = new RetrainOrchestrator({
      database,
      registry,
      artifacts: store,
      jobs: modelJobs,
      rollouts: new RolloutService({ db, registry, profiles: async () => new Map() }),
      autoTick: false,
      now: () => new Date(clock),
    });
    const app = createApiApp({
      db,
      identity: new DeviceRegistry({
        db,
        deviceClasses: async () => new Set(['raspberry-pi-4']),
        cloudAccount: { secret: 'dashboard-retraining-secret' },
      }),
      brokerUrls: {},
      readiness: {},
      logger: silentLogger,
      bodyLimit: 64 * 1024,
      models: {
        registry,
        store,
        publicKeys: () => [keys.publicKey],
        jobs: modelJobs,
        deviceProfiles: async () => new Map(),
      },
      retraining: orchestrator,
    });
    app.route('/', dashboardRoutes());
    http = await startHttpServer(app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
    const tokens = new ApiTokenStore(db);
    operatorToken = (await tokens.create({ name: 'dashboard-operator', role: 'operator' })).token;
    viewerToken = (await tokens.create({ name: 'dashboard-viewer', role: 'viewer' })).token;

    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.createModel({ name: 'kws', classes: ['yes', 'no'] });
    await registry.registerVersion(registration(1, []));
    await registry.registerVersion(registration(2, ['champion']));
    await registry.registerVersion(registration(3, []));
    await orchestrator.store.putPolicy('digits', { minLabelledSamples: 50, triggerState: 'warn' }, 'alice');

    const now = Date.now();
    await seedRun(
      'promoted',
      now - 5 * 60 * MIN,
      { model: 'digits', trigger: 'manual', triggerDetail: { requestedBy: 'alice' }, createdBy: 'alice' },
      {
        status: 'promoted',
        championVersion: 1,
        challengerVersion: 2,
        rolloutId: 'ro-digits-v2',
        lineage: LINEAGE,
        ...evaluation(PASSED),
        progress: { stage: 'done', fraction: 1, message: 'promoted' },
      },
    );
    // The gates' reason is kept as the run's reason only until the end: promoted says so.
    await orchestrator.store.updateRun(runIds['promoted'] as string, {
      reason: 'canary rollout ro-digits-v2 completed; v2 is now the champion',
    });
    await seedRun(
      'rejected',
      now - 3 * 60 * MIN,
      { model: 'digits', trigger: 'drift', triggerDetail: DRIFT, createdBy: 'drift-monitor' },
      {
        status: 'rejected',
        championVersion: 2,
        challengerVersion: 3,
        lineage: LINEAGE,
        ...evaluation(REJECTED),
        progress: { stage: 'done', fraction: 1, message: 'rejected by the gates; nothing deployed' },
      },
    );
    await seedRun(
      'failed',
      now - 2 * 60 * MIN,
      { model: 'digits', trigger: 'manual', triggerDetail: { requestedBy: 'carol' }, createdBy: 'carol' },
      {
        status: 'failed',
        championVersion: 2,
        reason: 'only 12 usable labelled samples (0 skipped as unusable); the policy needs 50',
        progress: { stage: 'done', fraction: 1, message: 'only 12 usable labelled samples' },
      },
    );
    await seedRun(
      'canary',
      now - 40 * MIN,
      { model: 'kws', trigger: 'manual', triggerDetail: { requestedBy: 'bob' }, createdBy: 'bob' },
      {
        status: 'canary',
        championVersion: 4,
        challengerVersion: 5,
        rolloutId: 'ro-kws-v5',
        progress: {
          stage: 'canary',
          fraction: 0.93,
          message: 'canary rollout ro-kws-v5: wave 2/3, 7/10 devices active',
        },
      },
    );
    await seedRun(
      'training',
      now - 5 * MIN,
      { model: 'digits', trigger: 'drift', triggerDetail: DRIFT, createdBy: 'drift-monitor' },
      {
        status: 'training',
        championVersion: 2,
        lineage: LINEAGE,
        progress: {
          stage: 'training',
          fraction: 0.42,
          message: 'train: epoch 3/8',
          jobId: 'job-0123456789ab',
        },
      },
    );

    // Five unlabelled low-confidence samples (s-0..s-4), one unlabelled random, two device-labelled.
    await database.db
      .insert(schema.fleetSamples)
      .values([
        ...[0, 1, 2, 3, 4].map((i) => sampleRow(i)),
        sampleRow(5, { reason: 'random' }),
        sampleRow(6, { label: 1, labelSource: 'device', labelledBy: 'cam-1' }),
        sampleRow(7, { label: 2, labelSource: 'device', labelledBy: 'cam-2' }),
      ]);
    context = await chromium.browser.newContext({ viewport: { width: 1400, height: 1000 } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await http?.close(0);
    await jobs?.close();
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows runs newest first with live progress, the gate verdict, lineage, policies and samples', async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${http.url}/dashboard#token=${operatorToken}`);
    await page.waitForSelector('body[data-state=ready][data-page=overview] [data-testid=last-retrain]', {
      timeout: 15_000,
    });
    const line = await page.textContent('[data-testid=last-retrain]');
    expect(line).toMatch(
      /^rt-training digits training drift \(alert\) on raspberry-pi-4: brightness, contrast · 42% train: epoch 3\/8 · \d+ min ago$/,
    );

    await page.click('nav a[data-page=retraining]');
    await page.waitForSelector('body[data-state=ready][data-page=retraining] [data-testid=retrain-runs]', {
      timeout: 15_000,
    });
    const runs = await cells(page, 'retrain-runs');
    expect(runs.map((r) => [r[0], r[1], r[2], r[3], r[4]])).toEqual([
      [
        'rt-training',
        'digits',
        'training',
        'drift (alert) on raspberry-pi-4: brightness, contrast',
        'v2 → –',
      ],
      ['rt-canary', 'kws', 'canary', 'manual by bob', 'v4 → v5'],
      ['rt-failed', 'digits', 'failed', 'manual by carol', 'v2 → –'],
      [
        'rt-rejected',
        'digits',
        'rejected',
        'drift (alert) on raspberry-pi-4: brightness, contrast',
        'v2 → v3',
      ],
      ['rt-promoted', 'digits', 'promoted', 'manual by alice', 'v1 → v2'],
    ]);
    expect(runs[0]?.[5]).toBe('42% · training: train: epoch 3/8');
    expect(runs[2]?.[5]).toBe('only 12 usable labelled samples (0 skipped as unusable); the policy needs 50');
    expect(runs[3]?.[5]).toMatch(/^refused by the gates: minEdgeAccuracyGain — fp32 on recent edge data/);
    const bars = () =>
      page.$$eval('[data-testid=retrain-runs] progress', (ps) =>
        ps.map((p) => (p as HTMLProgressElement).value),
      );
    expect(await bars()).toEqual([0.42, 0.93]);

    // The newest run is shown in detail: not evaluated yet, its data assembled.
    expect(await page.textContent('section:has([data-testid=run-facts]) h2')).toBe(
      'Run rt-training — digits',
    );
    expect(await page.$('[data-testid=gate-verdict-none]')).not.toBeNull();
    const lineage = await page.$$eval('[data-testid=run-lineage] dd', (dds) => dds.map((d) => d.textContent));
    expect(lineage).toEqual([
      'digits-8x8@a1b2c3 (test 300, from v1)',
      'digits-8x8@f00d (train 1140)',
      '200 usable: 140 train, 60 held out',
      '3: cam-1, cam-2, cam-3',
      'cam-1: 3-7 · cam-2: 4,9 · cam-3: 11',
      'device 180, operator 20',
    ]);

    // Training moves on: the next poll shows it, in the table and in the detail.
    clock = Date.now();
    await orchestrator.store.updateRun(runIds['training'] as string, {
      progress: { stage: 'training', fraction: 0.61, message: 'train: epoch 6/8' },
    });
    await page.waitForFunction(
      () => document.querySelector('[data-testid=retrain-runs] progress')?.getAttribute('value') === '0.61',
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.textContent('[data-testid=run-facts] ~ [data-testid=run-progress]')).toBe(
      '61% · training: train: epoch 6/8',
    );

    // Policies: digits' own, kws on the defaults.
    expect(await cells(page, 'retrain-policies')).toEqual([
      [
        'digits',
        'yes',
        'drift at warn',
        '50',
        '1 h',
        '7 d',
        '30%',
        'base loss ≤ 1.0 pts, edge gain ≥ 1.0 pts',
        '5% → 25% → 100% → devices running it',
        'set',
      ],
      [
        'kws',
        'yes',
        'drift at alert',
        '200',
        '1 h',
        '7 d',
        '30%',
        'base loss ≤ 1.0 pts, edge gain ≥ 1.0 pts',
        '5% → 25% → 100% → devices running it',
        'defaults',
      ],
    ]);
    // Samples: the counts, and the unlabelled low-confidence ones newest first with their previews.
    expect(await cells(page, 'sample-stats')).toEqual([['digits v1', '8', '2', '0', '6']]);
    const cards = await page.$$eval('[data-testid=sample-card]', (figs) =>
      figs.map((f) => ({
        caption: f.querySelector('figcaption')?.textContent,
        image: (f.querySelector('img') as HTMLImageElement | null)?.naturalWidth,
      })),
    );
    expect(cards).toEqual(
      [4, 3, 2, 1, 0].map((i) => ({
        caption: `${CLASSES[i % 3]} · ${Math.round((0.3 + i / 100) * 100)}%cam-${(i % 2) + 1} · digits v1`,
        image: SIDE * 4,
      })),
    );
    await page.screenshot({ path: new URL('dashboard-retraining.png', RESULTS).pathname, fullPage: true });

    // The rejected run: each gate per variant, with the numbers and the reason.
    await page.click('[data-testid=retrain-runs] a[href="#/retraining/rt-rejected"]');
    await page.waitForSelector('[data-testid=gate-checks]', { timeout: 15_000 });
    expect(await page.textContent('[data-testid=gate-verdict]')).toMatch(/^failed refused by the gates: /);
    const checks = await cells(page, 'gate-checks');
    expect(checks.map((c) => c.slice(0, 7))).toEqual([
      ['fp32', 'original test set (300)', '95.0%', '94.8%', '-0.2 pts', 'maxBaseAccuracyDrop', 'pass'],
      ['fp32', 'edge holdout (60)', '70.0%', '70.5%', '+0.5 pts', 'minEdgeAccuracyGain', 'fail'],
      ['int8', 'original test set (300)', '94.0%', '90.0%', '-4.0 pts', 'maxBaseAccuracyDrop', 'fail'],
      ['int8', 'edge holdout (60)', '69.0%', '80.0%', '+11.0 pts', 'minEdgeAccuracyGain', 'pass'],
    ]);
    expect(checks[1]?.[7]).toBe(
      'fp32 on recent edge data (60 held-out samples): challenger 70.5% vs champion 70.0%, gain 0.5 pts (required 1.0 pts)',
    );
    // The promoted run links its canary rollout and its versions.
    await page.click('[data-testid=retrain-runs] a[href="#/retraining/rt-promoted"]');
    await page.waitForSelector('[data-testid=run-facts] [data-testid=rollout-link]', { timeout: 15_000 });
    expect(await page.getAttribute('[data-testid=run-facts] [data-testid=rollout-link]', 'href')).toBe(
      '#/rollouts/ro-digits-v2',
    );
    expect(await page.textContent('[data-testid=gate-verdict]')).toBe(
      'passed canary rollout ro-digits-v2 completed; v2 is now the champion',
    );
    await page.click('[data-testid=run-facts] [data-testid=version-link] >> text=v2');
    await page.waitForSelector('body[data-state=ready][data-page=models] [data-testid=model-versions]', {
      timeout: 15_000,
    });
    expect(await page.$$eval('section h2', (hs) => hs.map((x) => x.textContent))).toEqual([
      'digits — champion → v2',
    ]);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('labels samples through the page with an operator token, and refuses a viewer clearly', async () => {
    const page = await open(operatorToken, '#/retraining');
    const errors = watchErrors(page);
    await page.waitForSelector('body[data-page=retraining] [data-testid=sample-grid]', { timeout: 15_000 });
    const [s4, s3] = [...(await sampleRows())].filter((r) => ['s-4', 's-3'].includes(r.sampleId)).reverse();

    // Confirm s-4's prediction ("1"), relabel s-3 (predicted "0") as "7".
    await page.click(`[data-sample="${s4?.id}"] button[data-action=confirm]`);
    await page.waitForSelector(`[data-testid=label-done]:has-text("s-4")`, { timeout: 15_000 });
    await page.selectOption(`[data-sample="${s3?.id}"] select`, '2');
    await page.click(`[data-sample="${s3?.id}"] button[data-action=set]`);
    await page.waitForSelector(`[data-testid=label-done]:has-text("s-3")`, { timeout: 15_000 });
    expect(await page.textContent('[data-testid=label-done]')).toBe('Sample s-3 from cam-2 labelled 7.');
    const stored = (await sampleRows()).filter((r) => r.labelSource === 'operator');
    expect(stored.map((r) => [r.sampleId, r.predictedClass, r.label, r.labelledBy])).toEqual([
      ['s-3', 0, 2, 'dashboard-operator'],
      ['s-4', 1, 1, 'dashboard-operator'],
    ]);
    // They leave the grid, and the counts move.
    expect(await page.$$('[data-testid=sample-card]')).toHaveLength(3);
    expect(await cells(page, 'sample-stats')).toEqual([['digits v1', '8', '2', '2', '4']]);
    expect(errors).toEqual([]);
    await page.close();

    const viewer = await open(viewerToken, '#/retraining');
    const viewerErrors = watchErrors(viewer);
    await viewer.waitForSelector('body[data-page=retraining] [data-testid=sample-grid]', { timeout: 15_000 });
    const before = await sampleRows();
    const s2 = before.find((r) => r.sampleId === 's-2');
    await viewer.click(`[data-sample="${s2?.id}"] button[data-action=confirm]`);
    await viewer.waitForSelector(`[data-sample="${s2?.id}"] [data-testid=label-error]`, { timeout: 15_000 });
    expect(await viewer.textContent(`[data-sample="${s2?.id}"] [data-testid=label-error]`)).toBe(
      'Not labelled: labelling needs an operator token (this needs the operator role; the token has viewer).',
    );
    // Still signed in, still polling, nothing stored.
    expect(await viewer.getAttribute('body', 'data-state')).toBe('ready');
    expect(await sampleRows()).toEqual(before);
    expect(before.find((r) => r.sampleId === 's-2')?.label).toBeNull();
    // The browser reports the refused request itself; nothing else may go wrong.
    expect(viewerErrors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await viewer.close();
  }, 90_000);
});
