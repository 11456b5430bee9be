// The demo page and the web SDK in headless Chromium against a real cloud started in this process
// (embedded PGlite in a temp dir, embedded broker on a free port, a digits model trained through the
// API on a thousand MNIST images): draw a digit with the mouse and see the prediction; reload from
// Cache Storage without the server seeing an artifact request; a refused key; and an app on another
// origin loading the SDK and the model from the cloud over CORS, with and without isolation.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadCloudConfig,
  loadMnistDataset,
  type RunningCloud,
  silentLogger,
  startCloud,
} from '@edgeloop/cloud';
import type * as Sdk from '@edgeloop/web-sdk';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';

declare global {
  var sdk: typeof Sdk;
  var sdkReady: boolean | undefined;
}

const FAST_LATENCY = { samples: 8, runsPerSample: 1, warmup: 2 };
const PER_CLASS = 100;
const SCREENSHOT = new URL('../../test-results/demo.png', import.meta.url);

let chromium: LaunchedBrowser;
let cloud: RunningCloud;
let dataDir: string;
let app: Server;
let appOrigin = '';
const contexts: BrowserContext[] = [];

/** The few fields these tests read from API answers (jobs, app keys). */
interface ApiJson {
  job?: { id: string };
  status?: string;
  key?: string;
  record?: { id: string };
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: ApiJson }> {
  const res = await fetch(`${cloud.urls.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${cloud.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as ApiJson };
}

/** Writes MNIST training digits as PNGs in class folders: what an operator's image folder looks like. */
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
    hyperparameters: { epochs: 3, convChannels: [8, 16], hidden: 32, batchSize: 16, learningRate: 0.005 },
    aliases: ['champion'],
  });
  expect(started.status).toBe(202);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { json } = await api('GET', `/api/v1/jobs/${started.json.job!.id}`);
    if (json.status === 'succeeded') return;
    if (json.status === 'failed' || Date.now() > deadline)
      throw new Error(`training: ${JSON.stringify(json)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Artifact downloads the cloud has answered, from its own request metrics (server side). */
async function artifactRequests(): Promise<number> {
  const metric = await cloud.metrics.getSingleMetric('edgeloop_api_request_duration_seconds')?.get();
  // A histogram's values are its buckets, sum and count (named by metricName); count the counts.
  const values = (metric?.values ?? []) as {
    metricName?: string;
    labels: { route?: string };
    value: number;
  }[];
  return values
    .filter(
      (v) => v.metricName?.endsWith('_count') && String(v.labels.route).startsWith('/api/v1/artifacts/'),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

async function newPage(): Promise<Page> {
  const context = await chromium.browser.newContext({ viewport: { width: 1000, height: 640 } });
  contexts.push(context);
  return context.newPage();
}

async function openDemo(page: Page, key: string): Promise<void> {
  await page.goto(`${cloud.urls.api}/demo#key=${key}`);
  await page.waitForFunction(
    () => ['ready', 'error', 'need-key'].includes(document.body.dataset.state ?? ''),
    undefined,
    {
      timeout: 30_000,
    },
  );
}

/** Draws a "7" on the pad with mouse events: a bar across the top, then a stroke down and left. */
async function drawSeven(page: Page): Promise<void> {
  const box = (await page.locator('#pad').boundingBox())!;
  const at = (x: number, y: number) =>
    [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
  await page.mouse.move(...at(70, 60));
  await page.mouse.down();
  await page.mouse.move(...at(200, 60), { steps: 12 });
  await page.mouse.move(...at(130, 230), { steps: 16 });
  await page.mouse.up();
}

const text = async (page: Page, id: string) =>
  (await page.locator(`[data-testid=${id}]`).textContent()) ?? '';

describeInBrowser('the demo page and the web SDK against a real cloud', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'el-web-cloud-'));
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
    ]);
    const trainStarted = performance.now();
    await trainDigits(digits);
    console.info(
      `trained digits v1 through the API in ${((performance.now() - trainStarted) / 1000).toFixed(1)} s`,
    );
    // An app on another origin (another port) that imports the SDK from the cloud.
    app = createServer((req, res) => {
      const isolated = req.url?.includes('isolated=1');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        ...(isolated
          ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
          : {}),
      });
      res.end(`<!doctype html><meta charset="utf-8"><title>shop</title><script type="module">
import * as sdk from '${cloud.urls.api}/sdk/edgeloop-web-sdk.js';
globalThis.sdk = sdk; globalThis.sdkReady = true;
</script>`);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  }, 180_000);
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await chromium?.close();
    app?.close();
    await cloud?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('loads the model through the SDK on /demo, classifies a drawn digit, and reloads from Cache Storage', async () => {
    expect(cloud.demoAppKey).toMatch(/^app_/);
    expect(cloud.urls.demo).toBe(`${cloud.urls.api}/demo#key=${cloud.demoAppKey}`);
    const page = await newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const before = await artifactRequests();
    await openDemo(page, cloud.demoAppKey!);
    expect({
      state: await page.evaluate(() => document.body.dataset.state),
      status: await text(page, 'status'),
      errors,
    }).toMatchObject({
      state: 'ready',
      errors: [],
    });
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    expect(await text(page, 'runtime')).toMatch(/^wasm, \d+ threads?, cross-origin isolated$/);
    expect(await text(page, 'source')).toBe('network');
    expect(await artifactRequests()).toBe(before + 1);

    await drawSeven(page);
    await page.waitForFunction(() => document.body.dataset.classified === '1');
    expect(await text(page, 'label')).toBe('7');
    expect(await text(page, 'confidence')).toMatch(/^\d+\.\d%$/);
    expect(await page.locator('[data-testid=top] li').count()).toBe(3);
    expect(await text(page, 'latency')).toMatch(/^\d+\.\d\d ms inference \+ \d+\.\d\d ms preprocessing$/);
    expect(await text(page, 'model')).toMatch(/^digits v1 \((fp32|int8)\)$/);
    await mkdir(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname });

    // Reload: the artifact comes from Cache Storage (re-hashed), the server sees no artifact request.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.state === 'ready', undefined, { timeout: 30_000 });
    expect(await text(page, 'source')).toBe('Cache Storage (no download)');
    expect(await artifactRequests()).toBe(before + 1);
  });

  it('refuses an unknown and a revoked key on the demo page, saying why', async () => {
    const page = await newPage();
    await openDemo(page, `app_0123456789ab_${'A'.repeat(43)}`);
    expect(await page.evaluate(() => document.body.dataset.error)).toBe('UNAUTHENTICATED');
    expect(await text(page, 'status')).toMatch(/could not load the model: UNAUTHENTICATED/);

    const created = await api('POST', '/api/v1/app-keys', { name: 'soon-revoked' });
    expect((await api('DELETE', `/api/v1/app-keys/${created.json.record!.id}`)).status).toBe(200);
    await openDemo(page, created.json.key!);
    expect(await page.evaluate(() => document.body.dataset.error)).toBe('UNAUTHENTICATED');
  });

  for (const isolated of [false, true]) {
    it(`serves an app on another origin over CORS (${isolated ? '' : 'not '}cross-origin isolated)`, async () => {
      const allowed = await api('POST', '/api/v1/app-keys', { name: 'shop', allowedOrigins: [appOrigin] });
      const elsewhere = await api('POST', '/api/v1/app-keys', {
        name: 'elsewhere',
        allowedOrigins: ['https://elsewhere.example.com'],
      });
      const page = await newPage();
      await page.goto(`${appOrigin}/${isolated ? '?isolated=1' : ''}`);
      await page.waitForFunction(() => globalThis.sdkReady === true, undefined, { timeout: 15_000 });
      expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(isolated);
      const run = (appKey: string) =>
        page.evaluate(
          async ({ cloudUrl, appKey }) => {
            try {
              const model = await globalThis.sdk.load({
                cloud: cloudUrl,
                appKey,
                model: 'digits',
                loadTimeoutMs: 20_000,
              });
              const canvas = document.createElement('canvas');
              canvas.width = canvas.height = 28;
              const ctx = canvas.getContext('2d')!;
              ctx.fillStyle = '#000';
              ctx.fillRect(0, 0, 28, 28);
              ctx.fillStyle = '#fff';
              ctx.fillRect(13, 4, 3, 20); // a "1"
              const result = await model.classify(canvas);
              return { ok: true as const, info: model.info, label: result.label };
            } catch (err) {
              return { ok: false as const, code: (err as Sdk.EdgeloopWebError).code };
            }
          },
          { cloudUrl: cloud.urls.api, appKey },
        );
      const served = await run(allowed.json.key!);
      expect(served).toMatchObject({
        ok: true,
        label: '1',
        info: { name: 'digits', version: '1', backend: 'wasm' },
      });
      if (served.ok) expect(served.info.threads > 1).toBe(isolated);
      // A key made for another origin: the cloud answers 403 without CORS headers, so the page sees
      // a network failure, not the model.
      expect(await run(elsewhere.json.key!)).toMatchObject({ ok: false });
    });
  }
});
