// The web SDK in real headless Chromium against a fixture cloud: load → verify → cache → classify,
// refusals of tampered and unsigned models, alias updates, and cross-origin isolation.
import type { ModelResolution } from '@edgeloop/shared';
import type * as Sdk from '@edgeloop/web-sdk';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';
import { FixtureCloud } from './support/fixture-cloud.ts';
import {
  bandClassifierOnnx,
  expectedProbabilities,
  manifestFor,
  type SigningKey,
  sha256Hex,
  signingKey,
  signManifest,
} from './support/model-fixture.ts';

declare global {
  var sdk: typeof Sdk;
  var sdkReady: boolean | undefined;
  var model: Sdk.EdgeloopModel | undefined;
  var updates: Sdk.ModelUpdate[];
  var drawDigit: (x: number) => HTMLCanvasElement;
}

/** Draws a "1": a white vertical stroke at x on a 280×280 black canvas (x=210 is band 7). */
function paintDigit(x: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = 280;
  canvas.height = 280;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, 280, 280);
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 18;
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(x, 50);
  ctx.lineTo(x, 230);
  ctx.stroke();
  return canvas;
}

const STROKE_X = 210; // band 7 of 10 → class 7; the reversed model says 9 - 7 = 2

let chromium: LaunchedBrowser;
const cloud = new FixtureCloud();
let key: SigningKey;
const contexts: BrowserContext[] = [];

/** Publishes a model version at /artifacts/<sha> and returns its signed resolution. */
function publish(version: string, bytes: Uint8Array, signer: SigningKey = key): ModelResolution {
  const manifest = manifestFor(bytes, { version });
  const artifactUrl = `/artifacts/${sha256Hex(bytes)}`;
  cloud.artifacts.set(artifactUrl, bytes);
  return { manifest, signature: signManifest(manifest, signer), alias: 'champion', artifactUrl };
}

async function openApp(options: { isolated?: boolean; context?: BrowserContext } = {}): Promise<Page> {
  let context = options.context;
  if (!context) {
    context = await chromium.browser.newContext();
    contexts.push(context);
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(cloud.appUrl(options.isolated));
  await page
    .waitForFunction(() => globalThis.sdkReady === true, undefined, { timeout: 10_000 })
    .catch(() => {
      throw new Error(`SDK did not start: ${errors.join('; ')}`);
    });
  await page.addScriptTag({ content: `globalThis.drawDigit = ${paintDigit.toString()}` });
  return page;
}

interface LoadArgs {
  cloud: string;
  appKey: string;
  extra?: Partial<Sdk.LoadOptions>;
}

/** In the page: load the model (kept as globalThis.model), or return the refusal's code. */
function loadInPage(page: Page, extra: Partial<Sdk.LoadOptions> = {}) {
  return page.evaluate(
    async ({ cloud, appKey, extra }: LoadArgs) => {
      const progress: Sdk.LoadProgress[] = [];
      try {
        globalThis.model = await globalThis.sdk.load({
          cloud,
          appKey,
          model: 'digits',
          onProgress: (p) => progress.push(p),
          ...extra,
        });
        globalThis.updates = [];
        globalThis.model.onUpdate((u) => globalThis.updates.push(u));
        return { ok: true as const, info: globalThis.model.info, progress };
      } catch (err) {
        const e = err as Sdk.EdgeloopWebError;
        return {
          ok: false as const,
          code: e.code,
          message: e.message,
          isWebError: e instanceof globalThis.sdk.EdgeloopWebError,
        };
      }
    },
    { cloud: cloud.origin, appKey: cloud.appKey, extra } as LoadArgs,
  );
}

function classifyInPage(page: Page, x = STROKE_X) {
  return page.evaluate(async (x: number) => {
    const canvas = globalThis.drawDigit(x);
    const result = await globalThis.model!.classify(canvas);
    const tensor = Array.from(
      await globalThis.sdk.toInputTensor(canvas, globalThis.model!.manifest.preprocessing),
    );
    return { result, tensor };
  }, x);
}

function cachedShas(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await globalThis.sdk.ArtifactCache.open())!.list());
}

describeInBrowser('web SDK in headless Chromium', () => {
  let v1: ModelResolution;

  beforeAll(async () => {
    key = signingKey();
    [chromium] = await Promise.all([launchChromium(), cloud.start()]);
  });
  afterAll(async () => {
    await chromium?.close();
    await cloud.stop();
  });
  beforeEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    cloud.artifacts.clear();
    cloud.keys = [key];
    v1 = publish('1', bandClassifierOnnx(false));
    cloud.resolution = v1;
    cloud.requests.length = 0;
    cloud.ortCoep = true;
  });

  it('resolves, verifies and runs a model on the wasm build, classifying a drawn digit', async () => {
    const page = await openApp();
    const started = performance.now();
    const loaded = await loadInPage(page);
    const loadMs = performance.now() - started;
    expect(loaded).toMatchObject({
      ok: true,
      info: { name: 'digits', version: '1', backend: 'wasm', source: 'network' },
    });
    if (!loaded.ok) return;
    expect(loaded.info.threads).toBe(1); // not cross-origin isolated
    const size = v1.manifest.size;
    expect(loaded.progress.at(-1)).toEqual({ loaded: size, total: size, model: 'digits', version: '1' });
    expect(loaded.progress.every((p, i, all) => i === 0 || p.loaded >= (all[i - 1]?.loaded ?? 0))).toBe(true);

    const { result, tensor } = await classifyInPage(page);
    expect(result).toMatchObject({
      classIndex: 7,
      label: 'seven',
      model: { name: 'digits', version: '1', variant: 'fp32' },
    });
    expect(result.topK).toHaveLength(5);
    // The session computed exactly softmax(x·W) of the tensor the SDK's preprocessing produced.
    const expected = expectedProbabilities(tensor, false);
    for (const score of result.topK)
      expect(score.confidence).toBeCloseTo(expected[score.classIndex] ?? -1, 5);
    expect(result.confidence).toBeGreaterThan(0.9);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    console.info(
      `cold load ${loadMs.toFixed(0)} ms; classify: preprocess ${result.preprocessMs.toFixed(2)} ms, run ${result.latencyMs.toFixed(2)} ms`,
    );

    // The app key went to the cloud; the page loaded the plain SIMD wasm, never the 28 MB JSEP build.
    expect(
      cloud.requests
        .filter((r) => r.path.startsWith('/api/') || r.path.startsWith('/artifacts/'))
        .every((r) => r.authorization === `Bearer ${cloud.appKey}`),
    ).toBe(true);
    expect(cloud.count('/sdk/ort/ort-wasm-simd-threaded.wasm')).toBe(1);
    expect(cloud.count('/sdk/ort/ort-wasm-simd-threaded.jsep')).toBe(0);
    expect(cloud.count('/artifacts/')).toBe(1);
  });

  it('serves a reload from Cache Storage without requesting the artifact, and evicts a corrupt entry', async () => {
    const page = await openApp();
    expect((await loadInPage(page)).ok).toBe(true);
    expect(await cachedShas(page)).toEqual([v1.manifest.sha256]);
    await page.reload();
    await page.waitForFunction(() => globalThis.sdkReady === true);
    await page.addScriptTag({ content: `globalThis.drawDigit = ${paintDigit.toString()}` });
    expect(await loadInPage(page)).toMatchObject({ ok: true, info: { source: 'cache', version: '1' } });
    expect(cloud.count('/artifacts/')).toBe(1); // zero artifact requests on the second load
    expect((await classifyInPage(page)).result.classIndex).toBe(7);

    // Someone edits the stored bytes: the read-time check evicts them and the SDK downloads again.
    await page.evaluate(async () => {
      const cache = await caches.open('edgeloop-models-v1');
      const [request] = await cache.keys();
      await cache.put(request!, new Response(new Uint8Array([1, 2, 3])));
    });
    expect(await loadInPage(page)).toMatchObject({ ok: true, info: { source: 'network' } });
    expect(cloud.count('/artifacts/')).toBe(2);
  });

  it('refuses a tampered artifact and caches nothing', async () => {
    const page = await openApp();
    const bytes = cloud.artifacts.get(v1.artifactUrl)!;
    const flipped = bytes.slice();
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 1;
    cloud.artifacts.set(v1.artifactUrl, flipped);
    expect(await loadInPage(page)).toMatchObject({ ok: false, isWebError: true, code: 'CHECKSUM_MISMATCH' });
    // Longer than the signed size: cut off during the download.
    cloud.artifacts.set(v1.artifactUrl, new Uint8Array([...bytes, 0, 0, 0]));
    expect(await loadInPage(page)).toMatchObject({ ok: false, code: 'CHECKSUM_MISMATCH' });
    expect(await cachedShas(page)).toEqual([]);
  });

  it('refuses unsigned and forged manifests before downloading anything', async () => {
    const page = await openApp();
    const attacker = signingKey();
    const { signature: _dropped, ...unsigned } = v1;
    const evil = publish('1', bandClassifierOnnx(true), attacker);
    const cases: [string, Record<string, unknown>, string][] = [
      ['unsigned', unsigned, 'SIGNATURE_MISSING'],
      // The manifest points at other bytes, but the signature is the one over the original manifest.
      ['altered after signing', { ...v1, manifest: evil.manifest }, 'SIGNATURE_INVALID'],
      // Signed by another key that claims the trusted keyId.
      ['forged keyId', { ...evil, signature: { ...evil.signature, keyId: key.keyId } }, 'SIGNATURE_INVALID'],
      ['unknown key', evil, 'SIGNATURE_INVALID'],
    ];
    for (const [name, resolution, code] of cases) {
      cloud.resolution = resolution;
      const keyFetches = cloud.count('/api/v1/keys');
      expect({ name, ...(await loadInPage(page)) }).toMatchObject({ name, ok: false, code });
      // A signature by an unknown key makes the SDK re-fetch the key set once (key rotation), no more.
      if (name === 'unknown key') expect(cloud.count('/api/v1/keys') - keyFetches).toBe(2);
    }

    // Pinned keys: even a cloud that serves the attacker's key cannot get its model accepted.
    cloud.keys = [attacker];
    cloud.resolution = evil;
    const pinned = Buffer.from(key.publicRaw).toString('base64');
    expect(await loadInPage(page, { publicKeys: [pinned] })).toMatchObject({
      ok: false,
      code: 'SIGNATURE_INVALID',
    });
    expect(await loadInPage(page)).toMatchObject({ ok: true }); // unpinned, it trusts the cloud's keys
    expect(cloud.count('/artifacts/')).toBe(1);
  });

  it('swaps in a new version only after it loads, and follows the alias on an interval', async () => {
    const page = await openApp();
    expect((await loadInPage(page)).ok).toBe(true);
    expect(await page.evaluate(() => globalThis.model!.checkForUpdate())).toBe(false);

    const v2 = publish('2', bandClassifierOnnx(true));
    cloud.resolution = v2;
    expect(await page.evaluate(() => globalThis.model!.checkForUpdate())).toBe(true);
    const updates = await page.evaluate(() => globalThis.updates);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({
      previous: { version: '1' },
      current: { version: '2', source: 'network' },
    });
    const after = await classifyInPage(page);
    expect(after.result).toMatchObject({ classIndex: 2, model: { version: '2' } });
    expect(await cachedShas(page)).toEqual([v2.manifest.sha256]); // v1 pruned

    // A signed, intact artifact that onnxruntime cannot load: the update fails, v2 keeps serving.
    cloud.resolution = publish('3', new TextEncoder().encode('not an onnx model'));
    const failed = await page.evaluate(() =>
      globalThis.model!.checkForUpdate().then(
        () => 'updated',
        (e: Sdk.EdgeloopWebError) => e.code,
      ),
    );
    expect(failed).toBe('MODEL_LOAD_FAILED');
    expect((await classifyInPage(page)).result).toMatchObject({ classIndex: 2, model: { version: '2' } });

    cloud.resolution = publish('4', bandClassifierOnnx(false));
    await page.evaluate(() => globalThis.model!.startUpdates(100));
    await page.waitForFunction(() => globalThis.updates.length === 2, undefined, { timeout: 10_000 });
    expect((await classifyInPage(page)).result).toMatchObject({ classIndex: 7, model: { version: '4' } });
    await page.evaluate(() => globalThis.model!.dispose());
  });

  it('uses several threads on a cross-origin isolated page (COOP/COEP)', async () => {
    const page = await openApp({ isolated: true });
    const env = await page.evaluate(() => ({
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
    }));
    expect(env.isolated).toBe(true);
    const loaded = await loadInPage(page);
    expect(loaded).toMatchObject({ ok: true, info: { backend: 'wasm' } });
    if (loaded.ok) expect(loaded.info.threads).toBe(Math.max(1, Math.min(4, env.cores)));
    expect((await classifyInPage(page)).result.classIndex).toBe(7);
  });

  it('turns the hang of blocked thread workers (ORT files without COEP) into a TIMEOUT', async () => {
    cloud.ortCoep = false;
    const page = await openApp({ isolated: true });
    const refused = await loadInPage(page, { loadTimeoutMs: 3000 });
    expect(refused).toMatchObject({ ok: false, code: 'TIMEOUT' });
    if (!refused.ok) expect(refused.message).toContain('Cross-Origin-Embedder-Policy');
  });

  it('accepts every image source and preprocesses them identically', async () => {
    const page = await openApp();
    expect((await loadInPage(page)).ok).toBe(true);
    const results = await page.evaluate(async () => {
      const canvas = globalThis.drawDigit(210);
      const ctx = canvas.getContext('2d')!;
      const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
      const img = new Image();
      img.src = URL.createObjectURL(blob);
      await img.decode();
      const offscreen = new OffscreenCanvas(280, 280);
      offscreen.getContext('2d')!.drawImage(canvas, 0, 0);
      const sources: Record<string, Sdk.ImageSource> = {
        canvas,
        offscreen,
        imageData: ctx.getImageData(0, 0, 280, 280),
        bitmap: await createImageBitmap(canvas),
        blob,
        img,
      };
      const spec = globalThis.model!.manifest.preprocessing;
      const out: Record<string, { classIndex: number; tensor: number[] }> = {};
      for (const [name, source] of Object.entries(sources)) {
        out[name] = {
          classIndex: (await globalThis.model!.classify(source)).classIndex,
          tensor: Array.from(await globalThis.sdk.toInputTensor(source, spec)),
        };
      }
      return out;
    });
    for (const [name, r] of Object.entries(results)) {
      expect({ name, classIndex: r.classIndex }).toEqual({ name, classIndex: 7 });
      expect({ name, tensor: r.tensor }).toEqual({ name, tensor: results.canvas!.tensor });
    }
  });

  it('reports auth, not-found and size refusals with stable codes', async () => {
    const page = await openApp();
    expect(await loadInPage(page, { appKey: 'wrong' })).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
    expect(await loadInPage(page, { model: 'cats' })).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(await loadInPage(page, { maxModelBytes: 1000 })).toMatchObject({
      ok: false,
      code: 'MODEL_TOO_LARGE',
    });
    expect(await loadInPage(page, { cloud: 'not a url' })).toMatchObject({
      ok: false,
      code: 'VALIDATION_FAILED',
    });
    expect(cloud.count('/artifacts/')).toBe(0);
  });
});
