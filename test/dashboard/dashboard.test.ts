// The fleet dashboard in headless Chromium against a real cloud started in this process (embedded
// PGlite and broker), a digits model trained through the API on 300 MNIST images, and a simulated
// fleet of three real agents the model is rolled out to in two waves: every page loads with that
// fleet's data, its charts draw real points, nothing logs a console error, and each page leaves a
// screenshot in test-results/dashboard-<page>.png.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadCloudConfig,
  loadMnistDataset,
  type RunningCloud,
  silentLogger,
  startCloud,
} from '@edgeloop/cloud';
import type { SimulatedFleet } from '@edgeloop/edge-agent';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDigitsFleet } from '../../bin/sim.ts';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';

const FAST_LATENCY = { samples: 8, runsPerSample: 1, warmup: 2 };
const PER_CLASS = 30;
const RESULTS = new URL('../../test-results/', import.meta.url);

let chromium: LaunchedBrowser;
let context: BrowserContext;
let cloud: RunningCloud;
let fleet: SimulatedFleet | undefined;
let dataDir: string;
let operatorToken: string;
let rolloutId: string;

/** The few fields these tests read from API answers. */
interface Json {
  job?: { id: string };
  status?: string;
  error?: unknown;
  token?: string;
  id?: string;
  windows?: unknown[];
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${cloud.urls.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${cloud.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${String(last ?? '')})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** MNIST training digits as PNGs in class folders, as an operator's image folder looks. */
async function writeDigits(dir: string): Promise<void> {
  const digits = loadMnistDataset();
  const { train } = digits;
  const written = new Map<number, number>();
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < train.count && writes.length < PER_CLASS * digits.classes.length; i++) {
    const label = train.labels[i] as number;
    const n = written.get(label) ?? 0;
    if (n >= PER_CLASS) continue;
    written.set(label, n + 1);
    const grey = Buffer.from(
      Array.from(train.images.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255)),
    );
    const folder = join(dir, digits.classes[label] as string);
    if (n === 0) await mkdir(folder, { recursive: true });
    writes.push(
      sharp(grey, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(join(folder, `${n}.png`)),
    );
  }
  await Promise.all(writes);
}

async function trainDigits(folder: string): Promise<void> {
  const started = await api('POST', '/api/v1/models/digits/train', {
    dataset: { kind: 'image-folder', path: folder },
    hyperparameters: { epochs: 2, convChannels: [4, 8], hidden: 16, batchSize: 16, learningRate: 0.005 },
    aliases: ['champion'],
  });
  expect(started.status).toBe(202);
  await until(
    async () => {
      const { json } = await api('GET', `/api/v1/jobs/${started.json.job!.id}`);
      if (json.status === 'failed') throw new Error(`training failed: ${JSON.stringify(json.error)}`);
      return json.status === 'succeeded' ? true : undefined;
    },
    'training',
    60_000,
  );
}

/** Console errors and uncaught exceptions of a page, collected from the moment it opens. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

async function show(page: Page, hash: string, name: string): Promise<void> {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.waitForSelector(`body[data-state=ready][data-page=${name}]`, { timeout: 15_000 });
}

/** How many values each chart on the page drew, by its aria-label. */
const chartPoints = (page: Page) =>
  page.$$eval('svg.chart', (charts) =>
    Object.fromEntries(
      charts.map((c) => [c.getAttribute('aria-label'), Number(c.getAttribute('data-points'))]),
    ),
  );

const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: new URL(`dashboard-${name}.png`, RESULTS).pathname, fullPage: true });

describeInBrowser('the fleet dashboard against a real cloud and a simulated fleet', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'el-dashboard-'));
    const config = loadCloudConfig({
      flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': dataDir, 'quick-start': true },
    });
    const digits = join(dataDir, 'digits');
    [chromium, cloud] = await Promise.all([
      launchChromium(),
      startCloud(config, {
        logger: silentLogger,
        bootstrapModel: false,
        pipeline: { latency: FAST_LATENCY, quantize: { latency: FAST_LATENCY } },
      }),
      writeDigits(digits),
      mkdir(RESULTS, { recursive: true }),
    ]);
    const issued = await api('POST', '/api/v1/tokens', { name: 'dashboard', role: 'operator' });
    expect(issued.status).toBe(201);
    operatorToken = issued.json.token!;

    [, fleet] = await Promise.all([
      trainDigits(digits),
      startDigitsFleet({
        cloudUrl: cloud.urls.api,
        apiToken: cloud.adminToken as string,
        devices: 3,
        dataDir: join(dataDir, 'sim'),
        idPrefix: 'cam',
        classes: [
          { deviceClass: 'simulated', weight: 2 },
          { deviceClass: 'raspberry-pi-4', weight: 1 },
        ],
        fps: 10,
        tuning: { telemetryWindowMs: 1000, reconnect: { initialMs: 50, maxMs: 500 } },
      }),
    ]);
    const rollout = await api('POST', '/api/v1/rollouts', {
      model: 'digits',
      alias: 'champion',
      target: { kind: 'devices', deviceIds: fleet.devices.map((d) => d.deviceId) },
      waves: [{ percent: 34 }, { percent: 100 }],
      minSoakSeconds: 1,
      deviceTimeoutSeconds: 60,
    });
    expect(rollout.status).toBe(201);
    rolloutId = rollout.json.id!;
    await until(
      async () =>
        (await api('GET', `/api/v1/rollouts/${rolloutId}`)).json.status === 'completed' ? true : undefined,
      'the rollout to complete',
      40_000,
    );
    // A few telemetry windows from every device, so the charts have more than one point.
    await until(
      async () => {
        const counts = await Promise.all(
          fleet!.devices.map(
            async (d) => (await api('GET', `/api/v1/devices/${d.deviceId}/telemetry`)).json.windows!.length,
          ),
        );
        return counts.every((n) => n >= 3) ? true : undefined;
      },
      'telemetry from every device',
      20_000,
    );
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await fleet?.stop();
    await cloud?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("shows every page with the fleet's data and charts, live, without console errors", async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    const ids = fleet!.devices.map((d) => d.deviceId).sort();

    await page.goto(`${cloud.urls.dashboard}#token=${operatorToken}`);
    await page.waitForSelector('body[data-state=ready][data-page=overview]', { timeout: 15_000 });
    // The token left the address bar; it lives in sessionStorage.
    expect(page.url()).not.toContain(operatorToken);
    expect(page.url()).toMatch(/#\/overview$/);
    expect(await page.textContent('[data-testid=online]')).toBe('3');
    const overview = await chartPoints(page);
    expect(overview['inferences / min']).toBeGreaterThan(0);
    expect(overview['p95 latency (ms)']).toBeGreaterThan(0);
    expect(overview.devices).toBe(2); // online bars of two device classes
    expect(overview['devices per version']).toBe(1); // everyone on digits v1, one variant per class kind
    expect(Number(await page.textContent('[data-testid=inferences]'))).toBeGreaterThan(0);
    // The alerts panel, open alerts or the word that there are none (health.test.ts checks its rows).
    expect(await page.$('[data-testid=alerts-none], [data-testid=alert-rows]')).not.toBeNull();
    await screenshot(page, 'overview');

    // Live: the page polls and re-renders by itself.
    const stamp = await page.textContent('[data-testid=status]');
    await page.waitForFunction(
      (s) => document.querySelector('[data-testid=status]')?.textContent !== s,
      stamp,
      {
        timeout: 12_000,
      },
    );

    await show(page, '#/devices', 'devices');
    const rows = await page.$$eval('[data-testid=device-rows] tbody tr', (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)),
    );
    expect(rows.map((r) => r[0])).toEqual(ids);
    for (const row of rows) {
      expect(row[2]).toBe('online');
      expect(row[3]).toMatch(/^digits v1 \((fp32|int8)\)$/);
    }
    await screenshot(page, 'devices');

    await page.click(`a[href="#/device/${ids[0]}"]`);
    await page.waitForSelector('body[data-state=ready] [data-testid=device-state]', { timeout: 15_000 });
    expect(await page.textContent('[data-testid=device-state]')).toContain('digits v1');
    const device = await chartPoints(page);
    expect(device.inferences).toBeGreaterThanOrEqual(3);
    expect(device['predictions per class']).toBeGreaterThan(0);
    // Consecutive windows of one model are one history row: at most "no model", then digits v1.
    const history = await page.$$eval('[data-testid=model-history] tbody tr td:first-child', (tds) =>
      tds.map((td) => td.textContent),
    );
    expect(history[0]).toMatch(/^digits v1 (fp32|int8)$/);
    expect(history.slice(1)).toEqual(history.length > 1 ? ['no model'] : []);
    await screenshot(page, 'device');

    await show(page, '#/rollouts', 'rollouts');
    expect(await page.textContent('[data-testid=rollout-rows]')).toContain(rolloutId);
    // Two waves, all of their devices active: one green segment per wave, none pending or failed.
    const segments = await page.$$eval('svg.bar-chart rect[data-part]', (rects) =>
      rects.map((r) => r.getAttribute('data-part')),
    );
    expect(segments).toEqual(['active', 'active']);
    const events = await page.textContent('[data-testid=rollout-events]');
    expect(events).toContain('wave.passed');
    expect(await page.$$eval('[data-testid=wave-gates] tbody tr', (trs) => trs.length)).toBe(2);
    await screenshot(page, 'rollouts');

    await show(page, '#/models', 'models');
    const models = await chartPoints(page);
    expect(models['accuracy (%)']).toBeGreaterThanOrEqual(2); // v1 fp32 and int8
    expect(models['size (KiB)']).toBeGreaterThanOrEqual(2);
    expect(await page.textContent('[data-testid=model-versions]')).toContain('champion');
    await screenshot(page, 'models');

    // Drift: a slice per model version × device class once the drift monitor reported; until then
    // the page says so (health.test.ts checks the charts against seeded reports).
    await show(page, '#/drift', 'drift');
    const drift = await page.$$eval('[data-testid=drift-summary], [data-testid=drift-none]', (els) =>
      els.map((e) => e.getAttribute('data-testid')),
    );
    expect(drift.length).toBeGreaterThan(0);
    if (drift[0] === 'drift-summary') {
      expect(Object.values(await chartPoints(page)).some((n) => Number(n) > 0)).toBe(true);
    }
    await screenshot(page, 'drift-fleet');

    expect(errors).toEqual([]);
  }, 60_000);

  it('asks for a token when none is given, and the API refuses one it does not know', async () => {
    const page = await context.newPage();
    await page.goto(cloud.urls.dashboard);
    await page.waitForSelector('body[data-state=need-token] #token-form', { state: 'visible' });
    await page.fill('#token', 'el_nope_nope');
    await page.click('#token-form button');
    await page.waitForFunction(() =>
      document.querySelector('#status')?.textContent?.startsWith('token refused'),
    );
    expect(await page.getAttribute('body', 'data-state')).toBe('need-token');
    await page.close();
  });
});
