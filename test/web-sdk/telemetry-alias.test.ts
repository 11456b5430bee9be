// The web SDK's telemetry and alias following in headless Chromium against a real cloud started in
// this process (embedded PGlite, or PostgreSQL with DATABASE_URL): windows POSTed from a page on
// another origin land in telemetry_windows under a `browser` install the fleet view counts; the last
// window of a page that goes away arrives by sendBeacon; a key without telemetry:write is refused;
// and when the operator moves `champion`, the page swaps the new version in only once it has loaded.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, loadCloudConfig, type RunningCloud, silentLogger, startCloud } from '@edgeloop/cloud';
import type { TelemetryWindow } from '@edgeloop/shared';
import type * as Sdk from '@edgeloop/web-sdk';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';

declare global {
  var sdk: typeof Sdk;
  var sdkReady: boolean | undefined;
  var model: Sdk.EdgeloopModel | undefined;
  var posted: TelemetryWindow[];
  var updates: Sdk.ModelUpdate[];
  var errors: string[];
}

const FAST_LATENCY = { samples: 4, runsPerSample: 1, warmup: 1 };

let chromium: LaunchedBrowser;
let cloud: RunningCloud;
let dataDir: string;
let app: Server;
let appOrigin = '';
const contexts: BrowserContext[] = [];

async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${cloud.urls.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${cloud.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A 784-16-10 MLP whose weights depend on `seed`, so two versions differ in bytes and answers. */
function mlp(seed: number): Uint8Array {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff - 0.5;
  };
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', ['N', 1, 28, 28]);
  const flat = b.node('Flatten', [x], { axis: 1 });
  const hidden = b.node('Relu', [
    b.node('MatMul', [flat, b.initializer('w1', [784, 16], Float32Array.from({ length: 784 * 16 }, random))]),
  ]);
  const logits = b.node(
    'MatMul',
    [hidden, b.initializer('w2', [16, 10], Float32Array.from({ length: 160 }, random))],
    {},
    'logits',
  );
  b.output(logits, ['N', 10]);
  return b.toBytes();
}

async function importVersion(seed: number, aliases: string[]): Promise<number> {
  const { job } = await api<{ job: { id: string } }>('POST', '/api/v1/models/import', {
    name: 'digits',
    onnx: Buffer.from(mlp(seed)).toString('base64'),
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
    calibration: { kind: 'mnist' },
    aliases,
  });
  const done = await eventually(
    async () => {
      const status = await api<{ status: string; result?: { version: number } }>(
        'GET',
        `/api/v1/jobs/${job.id}`,
      );
      if (status.status === 'failed') throw new Error(`import failed: ${JSON.stringify(status)}`);
      return status.status === 'succeeded' ? status : undefined;
    },
    'the import job',
    120_000,
  );
  return done.result?.version as number;
}

interface WindowView {
  seq: number;
  model: string | null;
  inferences: number;
  errors: number;
  classCounts: number[];
}
const windowsOf = async (deviceId: string) =>
  (await api<{ windows: WindowView[] }>('GET', `/api/v1/devices/${deviceId}/telemetry?limit=50`)).windows;

async function openApp(prepare?: (context: BrowserContext) => Promise<void>): Promise<Page> {
  const context = await chromium.browser.newContext(); // a fresh profile: a new install id
  contexts.push(context);
  await prepare?.(context);
  const page = await context.newPage();
  await page.goto(`${appOrigin}/`);
  await page.waitForFunction(() => globalThis.sdkReady === true, undefined, { timeout: 15_000 });
  return page;
}

/** In the page: load `digits@champion`, recording telemetry POST bodies, updates and errors. */
function loadInPage(page: Page, appKey: string, telemetry: Sdk.TelemetryOptions | false = {}) {
  return page.evaluate(
    async ({ cloudUrl, appKey, telemetry }) => {
      globalThis.posted = [];
      globalThis.updates = [];
      globalThis.errors = [];
      const recording: typeof fetch = async (input, init) => {
        if (init?.method === 'POST') globalThis.posted.push(...JSON.parse(String(init.body)).windows);
        return fetch(input, init);
      };
      globalThis.model = await globalThis.sdk.load({
        cloud: cloudUrl,
        appKey,
        model: 'digits',
        alias: 'champion',
        cache: false,
        loadTimeoutMs: 20_000,
        fetch: recording,
        telemetry,
      });
      globalThis.model.onUpdate((u) => globalThis.updates.push(u));
      globalThis.model.onError((e) => globalThis.errors.push(e.code));
      return globalThis.model.info;
    },
    { cloudUrl: cloud.urls.api, appKey, telemetry },
  );
}

/** In the page: classify `n` drawn strokes; returns the versions that answered. */
function classifyInPage(page: Page, n: number) {
  return page.evaluate(async (n: number) => {
    const versions: string[] = [];
    for (let i = 0; i < n; i++) {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 28;
      const ctx = canvas.getContext('2d')!;
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, 28, 28);
      ctx.fillStyle = '#fff';
      ctx.fillRect(4 + 2 * i, 4, 3, 20);
      versions.push((await globalThis.model!.classify(canvas)).model.version);
    }
    return versions;
  }, n);
}

describeInBrowser('web SDK telemetry and alias moves against a real cloud', () => {
  let appKey = '';
  let v1 = 0;
  let v2 = 0;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'el-web-telemetry-'));
    const config = loadCloudConfig({
      flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': dataDir, 'quick-start': true },
    });
    [chromium, cloud] = await Promise.all([
      launchChromium(),
      startCloud(config, {
        logger: silentLogger,
        bootstrapModel: false,
        pipeline: { latency: FAST_LATENCY, quantize: { latency: FAST_LATENCY } },
      }),
    ]);
    v1 = await importVersion(11, ['champion']);
    v2 = await importVersion(23, []);
    app = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><meta charset="utf-8"><title>shop</title><script type="module">
import * as sdk from '${cloud.urls.api}/sdk/edgeloop-web-sdk.js';
globalThis.sdk = sdk; globalThis.sdkReady = true;
</script>`);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    appKey = (
      await api<{ key: string }>('POST', '/api/v1/app-keys', { name: 'shop', allowedOrigins: [appOrigin] })
    ).key;
  }, 240_000);
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await chromium?.close();
    app?.close();
    await cloud?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('sends windows that land in telemetry_windows under a browser install the fleet view counts', async () => {
    const browsersBefore = (
      await api<{ devices: { deviceClass: string; unknown: number }[] }>('GET', '/api/v1/fleet/summary')
    ).devices.find((d) => d.deviceClass === 'browser');
    const page = await openApp();
    expect(await loadInPage(page, appKey)).toMatchObject({ name: 'digits', version: String(v1) });
    expect(await classifyInPage(page, 3)).toEqual([String(v1), String(v1), String(v1)]);
    const status = await page.evaluate(async () => {
      await globalThis.model!.telemetry!.flush();
      return globalThis.model!.telemetry!.status();
    });
    expect(status).toMatchObject({ sentWindows: 1, bufferedWindows: 0, droppedWindows: 0 });
    expect(status.deviceId).toMatch(/^web-[0-9a-f]{32}$/);
    // What went over the wire: the agent's window shape, drift sketches included.
    const [posted] = await page.evaluate(() => globalThis.posted);
    expect(posted).toMatchObject({ deviceId: status.deviceId, seq: 0, inferences: 3, errors: 0 });
    expect(posted?.sketches?.spec).toMatch(/^[0-9a-f]{8}$/);

    const rows = await eventually(async () => {
      const windows = await windowsOf(status.deviceId);
      return windows.length > 0 ? windows : undefined;
    }, 'the window in telemetry_windows');
    expect(rows).toEqual([
      expect.objectContaining({
        seq: 0,
        inferences: 3,
        errors: 0,
        model: expect.stringMatching(new RegExp(`^digits v${v1}`)),
      }),
    ]);
    expect(rows[0]?.classCounts.reduce((a, b) => a + b, 0)).toBe(3);
    const device = await api<{ deviceClass: string }>('GET', `/api/v1/devices/${status.deviceId}`);
    expect(device.deviceClass).toBe('browser');
    const browsers = (
      await api<{ devices: { deviceClass: string; unknown: number }[] }>('GET', '/api/v1/fleet/summary')
    ).devices.find((d) => d.deviceClass === 'browser');
    expect(browsers?.unknown).toBe((browsersBefore?.unknown ?? 0) + 1);
  });

  it('delivers the last window by sendBeacon when the page goes away', async () => {
    const page = await openApp(async (context) => {
      await context.addInitScript(() => {
        const send = navigator.sendBeacon.bind(navigator);
        navigator.sendBeacon = (url, data) => {
          const log = JSON.parse(localStorage.getItem('beacons') ?? '[]');
          log.push({ url: String(url), windows: JSON.parse(String(data)).windows.length });
          localStorage.setItem('beacons', JSON.stringify(log));
          return send(url, data);
        };
      });
    });
    await loadInPage(page, appKey); // 60 s windows: nothing is sent while the page lives
    await classifyInPage(page, 4);
    const deviceId = await page.evaluate(() => globalThis.model!.telemetry!.status().deviceId);
    expect(await page.evaluate(() => globalThis.posted.length)).toBe(0);
    await page.goto('about:blank'); // pagehide: the SDK closes the window and hands it to the browser
    const rows = await eventually(async () => {
      const windows = await windowsOf(deviceId);
      return windows.length > 0 ? windows : undefined;
    }, 'the beaconed window');
    expect(rows).toEqual([expect.objectContaining({ seq: 0, inferences: 4 })]);
    // It went by sendBeacon (logged to localStorage by the wrapper below), not by fetch.
    await page.goto(`${appOrigin}/`);
    const beacons = await page.evaluate(() => JSON.parse(localStorage.getItem('beacons') ?? '[]'));
    expect(beacons).toEqual([{ url: `${cloud.urls.api}/api/v1/telemetry/beacon`, windows: 1 }]);
  });

  it('refuses telemetry from a key without telemetry:write, and the page keeps classifying', async () => {
    const { key } = await api<{ key: string }>('POST', '/api/v1/app-keys', {
      name: 'resolve-only',
      allowedOrigins: [appOrigin],
      scopes: ['models:resolve', 'artifacts:read', 'keys:read'],
    });
    const page = await openApp();
    await loadInPage(page, key);
    await classifyInPage(page, 2);
    const status = await page.evaluate(async () => {
      await globalThis.model!.telemetry!.flush();
      return { ...globalThis.model!.telemetry!.status(), errors: globalThis.errors };
    });
    expect(status).toMatchObject({
      sentWindows: 0,
      droppedWindows: 1,
      refused: { code: 'FORBIDDEN' },
      errors: ['FORBIDDEN'],
    });
    expect(await classifyInPage(page, 1)).toEqual([String(v1)]);
    await expect(api('GET', `/api/v1/devices/${status.deviceId}`)).rejects.toThrow(/404/);
  });

  it('swaps in the version the alias moved to only after it has loaded', async () => {
    const page = await openApp();
    expect(await loadInPage(page, appKey)).toMatchObject({ version: String(v1) });
    expect(await page.evaluate(() => globalThis.model!.checkForUpdate())).toBe(false);
    await classifyInPage(page, 2);

    await api('PUT', '/api/v1/models/digits/aliases/champion', { version: v2 });
    // Classify continuously while the update downloads, verifies and compiles v2: every call is
    // answered, first by v1, then — after the swap — by v2, never by a half-loaded model.
    const during = await page.evaluate(async () => {
      const model = globalThis.model!;
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 28;
      const versions: string[] = [];
      let done = false;
      const update = model.checkForUpdate().finally(() => {
        done = true;
      });
      // A frame loop: one classification per tick (a bare await loop would starve network tasks).
      while (!done) {
        versions.push((await model.classify(canvas)).model.version);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return { updated: await update, versions, after: (await model.classify(canvas)).model.version };
    });
    expect(during.updated).toBe(true);
    expect(during.after).toBe(String(v2));
    expect(during.versions.length).toBeGreaterThan(0);
    const firstV2 = during.versions.indexOf(String(v2));
    const beforeSwap = firstV2 === -1 ? during.versions : during.versions.slice(0, firstV2);
    expect(beforeSwap.every((v) => v === String(v1))).toBe(true);
    expect(during.versions.slice(beforeSwap.length).every((v) => v === String(v2))).toBe(true);

    const updates = await page.evaluate(() => globalThis.updates);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ previous: { version: String(v1) }, current: { version: String(v2) } });
    expect(await classifyInPage(page, 1)).toEqual([String(v2)]);

    // Telemetry reports each version in its own windows.
    const deviceId = await page.evaluate(async () => {
      await globalThis.model!.telemetry!.flush();
      return globalThis.model!.telemetry!.status().deviceId;
    });
    const rows = await eventually(async () => {
      const windows = await windowsOf(deviceId);
      return windows.length >= 2 ? windows : undefined;
    }, 'windows of both versions');
    const byVersion = new Map(rows.map((r) => [r.model?.split(' ')[1], r.inferences]));
    const servedByV2 = during.versions.length - beforeSwap.length;
    expect(byVersion.get(`v${v1}`)).toBe(2 + beforeSwap.length);
    expect(byVersion.get(`v${v2}`)).toBe(servedByV2 + 2); // + `after` + the last classify
  });
});
