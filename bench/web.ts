// `pnpm bench web [--runs N] [--epochs E] [--train]`: the web SDK in headless Chromium (Debian's chromium via
// playwright-core) against a real cloud started in this process (temp data dir, ports 0), on the
// quick start's default `digits` model — the built-in CNN at its default architecture:
//   - bench/.cache/digits-cnn.onnx (written by `pnpm bench train`, default architecture) imported
//     through the cloud's pipeline when it exists, as the agent and quantize benches do;
//   - otherwise (or with `--train`) the quick start's own job: `startCloud` bootstraps `digits` from
//     MNIST with default hyperparameters, `--epochs` of them (default 1; the quick start runs 2 —
//     latency does not care).
//
//   1. inference latency of the fp32 and int8 variants in the page (the SDK's `classify().latencyMs`:
//      the onnxruntime-web run) at 1 and 2 intra-op threads, against onnxruntime-node on the same
//      ONNX bytes with the same thread count in this process: `ratio_vs_node` (target ≤ 3 at 2
//      threads; the published average for wasm vs native is ~17×);
//   2. cold first inference (fresh browser context: navigation → SDK → resolve → download → compile →
//      first result) and warm-cache first inference (reload in the same context: Cache Storage);
//   3. the SDK's own bundle, minified + gzipped, onnxruntime-web excluded (as
//      test/web-sdk/bundle-size.test.ts builds it; target ≤ 25 KB);
//   4. what telemetry (window summary + drift features per classify) adds to `classify()`: median
//      classify wall time with the default telemetry on vs `telemetry: false`, default variant.
//
// The page is served from a second origin with COOP/COEP (cross-origin isolated, so threads work)
// and imports the SDK from the cloud's `/sdk/edgeloop-web-sdk.js`. The SDK has no variant option: the
// page passes a `fetch` that adds `variant=` to the resolve request (the route takes it).
// Without a Chromium (CHROMIUM_PATH, /usr/bin/chromium) the bench says so and exits 0.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CHROMIUM_PATH, chromiumLauncher, launchHeadless, type PwContext } from './web/browser.ts';
import { bundleGzipBytes } from './web/bundle.ts';
import {
  adminApi,
  CACHED_MODEL,
  championArtifacts,
  defaultBrowserVariant,
  digitsModel,
  startBenchCloud,
} from './web/cloud.ts';
import { browserLatency, firstInference, type PageSetup } from './web/in-browser.ts';
import { nodeLatency } from './web/node-baseline.ts';
import { pageServer } from './web/page.ts';
import { report } from './web/report.ts';

const VARIANTS = ['fp32', 'int8'] as const;
const THREADS = [1, 2] as const;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '200' },
      epochs: { type: 'string', default: '1' },
      train: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const epochs = Number(values.epochs);
  const warmup = 20;
  if (!CHROMIUM_PATH) {
    console.log('SKIPPED bench web: no Chromium (set CHROMIUM_PATH or apt-get install -y chromium)');
    return;
  }
  const { loadMnistDataset } = await import('@edgeloop/cloud');
  const chromium = chromiumLauncher();
  const cached = !values.train && existsSync(CACHED_MODEL);

  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-web-'));
  const cloud = await startBenchCloud(dataDir, { cached, epochs });
  const browser = await launchHeadless(chromium, CHROMIUM_PATH);
  const contexts: PwContext[] = [];
  const server = pageServer(cloud.urls.api);
  try {
    const client = adminApi(cloud);

    // ── The quick start's default model: the cached CNN imported, or the bootstrap job ──
    const digits = loadMnistDataset();
    const modelStarted = performance.now();
    const outcome = await digitsModel(cloud, client, { cached, classes: digits.classes });
    const modelSource = cached
      ? 'bench/.cache/digits-cnn.onnx (pnpm bench train) imported'
      : `quick-start bootstrap job, MNIST, default hyperparameters, ${epochs} epoch(s)`;
    const accuracy = Object.fromEntries(outcome.variants.map((v) => [v.variant, v.accuracy]));
    console.log(
      `digits v${outcome.version}: ${modelSource} in ${((performance.now() - modelStarted) / 1000).toFixed(1)} s; test accuracy ${JSON.stringify(accuracy)}`,
    );

    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pageOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { key: appKey } = (await client.json('POST', '/api/v1/app-keys', {
      name: 'bench-web',
      allowedOrigins: [pageOrigin],
    })) as { key: string };

    // ── The same ONNX bytes in onnxruntime-node ──
    const artifacts = await championArtifacts(client, VARIANTS);
    const defaultVariant = await defaultBrowserVariant(client);
    const x = new Float32Array(784);
    for (let i = 0; i < 784; i++) x[i] = (digits.train.images[i] ?? 0) as number;

    // ── In the browser: latency per variant and thread count, telemetry's cost, first inference ──
    const setup: PageSetup = { browser, contexts, pageOrigin, cloud: cloud.urls.api, appKey, warmup, runs };
    const { rows, telemetryOn, telemetryOff, timer } = await browserLatency(setup, {
      variants: VARIANTS,
      threads: THREADS,
      defaultVariant,
      artifactBytes: (variant) => artifacts[variant]?.bytes.length,
      nodeLatency: (variant, threads) => nodeLatency(artifacts, variant, threads, { x, warmup, runs }),
    });
    const { cold, warm } = await firstInference(setup);

    // ── Bundle size ──
    const ort = ['onnxruntime-web', 'onnxruntime-web/*'];
    const [sdkGzip, withZodGzip] = await Promise.all([
      bundleGzipBytes([...ort, 'zod', 'zod/*']),
      bundleGzipBytes(ort),
    ]);

    await report({
      chromium: browser.version(),
      timer,
      runs,
      warmup,
      model: { outcome, source: modelSource, accuracy },
      defaultVariant,
      rows,
      telemetryOn,
      telemetryOff,
      cold,
      warm,
      sdkGzip,
      withZodGzip,
    });
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser.close();
    server.close();
    await cloud.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
