// The bench page: its HTML (importing the SDK from the cloud, exposing `bench.latency`, `bench.first`,
// `bench.timer`), the second origin that serves it cross-origin isolated (COOP/COEP, so threads
// work), and how the bench opens it and calls into it.
import { createServer, type Server } from 'node:http';
import type { PwContext, PwPage } from './browser.ts';

export interface PageLatency {
  info: { variant: string; threads: number; backend: string; version: string };
  inference: number[];
  total: number[];
}
export interface PageFirst {
  sinceNavigationMs: number;
  loadToResultMs: number;
  loadMs: number;
  inferenceMs: number;
  label: string;
  info: { variant: string; threads: number; source: string };
}

/** What `bench.timer()` reports: the timer's resolution and whether threads can work. */
export interface PageTimer {
  resolutionMs: number;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
}

/** The page: imports the SDK from the cloud and exposes `bench.latency`, `bench.first`, `bench.timer`. */
function pageHtml(cloudUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>edgeloop web bench</title><script type="module">
import * as sdk from '${cloudUrl}/sdk/edgeloop-web-sdk.js';
const withVariant = (variant) => (input, init) => {
  let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (variant && url.includes('/resolve?')) url += '&variant=' + variant;
  return fetch(url, init);
};
function digit() {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 28;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000'; ctx.fillRect(0, 0, 28, 28);
  ctx.fillStyle = '#fff'; ctx.fillRect(13, 4, 3, 20);
  return canvas;
}
globalThis.bench = {
  async latency({ cloud, appKey, variant, numThreads, warmup, runs, telemetry = true }) {
    const model = await sdk.load({ cloud, appKey, model: 'digits', numThreads, cache: false,
      fetch: withVariant(variant), loadTimeoutMs: 60000, telemetry });
    const input = digit();
    for (let i = 0; i < warmup; i++) await model.classify(input);
    const inference = [], total = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await model.classify(input);
      total.push(performance.now() - t0);
      inference.push(r.latencyMs);
    }
    const info = model.info;
    await model.dispose();
    return { info, inference, total };
  },
  async first({ cloud, appKey }) {
    const t0 = performance.now();
    const model = await sdk.load({ cloud, appKey, model: 'digits', loadTimeoutMs: 60000 });
    const t1 = performance.now();
    const r = await model.classify(digit());
    const t2 = performance.now();
    return { sinceNavigationMs: t2, loadToResultMs: t2 - t0, loadMs: t1 - t0, inferenceMs: r.latencyMs,
      label: r.label, info: model.info };
  },
  timer() {
    let min = Infinity;
    for (let i = 0; i < 200; i++) {
      const a = performance.now();
      let b = a;
      while (b === a) b = performance.now();
      min = Math.min(min, b - a);
    }
    return { resolutionMs: min, crossOriginIsolated: globalThis.crossOriginIsolated === true,
      hardwareConcurrency: navigator.hardwareConcurrency };
  },
};
globalThis.benchReady = true;
</script>`;
}

/** An HTTP server (not listening yet) serving the page for the cloud at `cloudUrl`, cross-origin isolated. */
export function pageServer(cloudUrl: string): Server {
  return createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-store',
    });
    res.end(pageHtml(cloudUrl));
  });
}

/** Waits until the page's script has set up `globalThis.bench`. */
export async function waitForBench(page: PwPage): Promise<void> {
  await page.waitForFunction('globalThis.benchReady === true', undefined, { timeout: 30_000 });
}

/** A new page in `context` at `pageOrigin`, ready, with its errors printed. */
export async function openPage(context: PwContext, pageOrigin: string): Promise<PwPage> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${pageOrigin}/`);
  await waitForBench(page);
  return page;
}

/** Calls `bench.<fn>(arg)` in the page. */
export const callBench = (page: PwPage, fn: string, arg: unknown) =>
  page.evaluate(`globalThis.bench.${fn}(${JSON.stringify(arg)})`);
