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
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const TARGETS = { ratio_vs_node_2_threads: 3, sdk_gzip_kb: 25 };
const VARIANTS = ['fp32', 'int8'] as const;
const THREADS = [1, 2] as const;
const CACHED_MODEL = join(here, '.cache', 'digits-cnn.onnx');

// playwright-core and esbuild are the browser tests' dependencies: load them from there.
const testRequire = createRequire(join(here, '..', 'test', 'package.json'));

// ── Minimal shapes of what is used from playwright-core and esbuild ──────────────────────────────
interface PwPage {
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  waitForFunction(expression: string, arg?: unknown, options?: { timeout: number }): Promise<unknown>;
  on(event: 'pageerror', fn: (e: Error) => void): void;
}
interface PwContext {
  newPage(): Promise<PwPage>;
  close(): Promise<void>;
}
interface PwBrowser {
  newContext(): Promise<PwContext>;
  close(): Promise<void>;
  version(): string;
}
interface Playwright {
  chromium: {
    launch(o: { executablePath: string; headless: boolean; args: string[] }): Promise<PwBrowser>;
  };
}
interface Esbuild {
  build(o: Record<string, unknown>): Promise<{ outputFiles: { contents: Uint8Array }[] }>;
}

const CHROMIUM_PATH = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
/** The flags test/support/browser.ts uses (no sandbox as root, no background network chatter). */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

function stats(xs: number[]): { median: number; p95: number; min: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return {
    median: round(at(0.5), 3),
    p95: round(at(0.95), 3),
    min: round(s[0] ?? Number.NaN, 3),
    n: s.length,
  };
}

/** SDK (with shared) min+gzip, onnxruntime-web and optionally zod external. */
async function bundleGzipBytes(external: string[]): Promise<number> {
  const { build } = testRequire('esbuild') as Esbuild;
  const result = await build({
    entryPoints: [join(here, '..', 'web-sdk', 'src', 'index.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    write: false,
    logLevel: 'silent',
  });
  return gzipSync(result.outputFiles[0]?.contents ?? new Uint8Array(), { level: 9 }).length;
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

/** What a pipeline job that registered a version returns. */
interface ModelOutcome {
  version: number;
  variants: { variant: string; size: number; accuracy: number | null }[];
}

interface PageLatency {
  info: { variant: string; threads: number; backend: string; version: string };
  inference: number[];
  total: number[];
}
interface PageFirst {
  sinceNavigationMs: number;
  loadToResultMs: number;
  loadMs: number;
  inferenceMs: number;
  label: string;
  info: { variant: string; threads: number; source: string };
}

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
  const { createSession, loadCloudConfig, loadMnistDataset, silentLogger, startCloud } = await import(
    '@edgeloop/cloud'
  );
  const { chromium } = testRequire('playwright-core') as Playwright;
  const cached = !values.train && existsSync(CACHED_MODEL);
  // The cloud's onnxruntime-node (the one createSession uses) for the input tensor.
  const { Tensor } = createRequire(join(here, '..', 'cloud', 'package.json'))('onnxruntime-node') as {
    Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  };

  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-web-'));
  const config = loadCloudConfig({
    flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': dataDir, 'quick-start': true },
  });
  const fast = { samples: 8, runsPerSample: 1, warmup: 2 };
  const cloud = await startCloud(config, {
    logger: silentLogger,
    // No cached model: the quick start's own bootstrap job trains the default model.
    bootstrapModel: cached ? false : { epochs },
    pipeline: { latency: fast, quantize: { latency: fast } },
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
  const contexts: PwContext[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-store',
    });
    res.end(pageHtml(cloud.urls.api));
  });
  try {
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${cloud.urls.api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${cloud.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res;
    };
    const json = async (method: string, path: string, body?: unknown) =>
      (await (await api(method, path, body)).json()) as Record<string, unknown>;

    // ── The quick start's default model: the cached CNN imported, or the bootstrap job ──
    const digits = loadMnistDataset();
    const waitForJob = async (id: string) => {
      for (const deadline = Date.now() + 900_000; ; ) {
        const status = await json('GET', `/api/v1/jobs/${id}`);
        if (status.status === 'succeeded') return status.result as ModelOutcome;
        if (status.status === 'failed' || Date.now() > deadline)
          throw new Error(`job: ${JSON.stringify(status)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const modelStarted = performance.now();
    let outcome: ModelOutcome;
    if (cached) {
      const job = (await json('POST', '/api/v1/models/import', {
        name: 'digits',
        onnx: readFileSync(CACHED_MODEL).toString('base64'),
        classes: digits.classes,
        preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
        calibration: { kind: 'mnist' },
        aliases: ['champion'],
      })) as { job: { id: string } };
      outcome = await waitForJob(job.job.id);
    } else {
      if (!cloud.bootstrapJob) throw new Error('the cloud did not start its bootstrap training job');
      outcome = await waitForJob(cloud.bootstrapJob.id);
    }
    const modelSource = cached
      ? 'bench/.cache/digits-cnn.onnx (pnpm bench train) imported'
      : `quick-start bootstrap job, MNIST, default hyperparameters, ${epochs} epoch(s)`;
    const accuracy = Object.fromEntries(outcome.variants.map((v) => [v.variant, v.accuracy]));
    console.log(
      `digits v${outcome.version}: ${modelSource} in ${((performance.now() - modelStarted) / 1000).toFixed(1)} s; test accuracy ${JSON.stringify(accuracy)}`,
    );

    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pageOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { key: appKey } = (await json('POST', '/api/v1/app-keys', {
      name: 'bench-web',
      allowedOrigins: [pageOrigin],
    })) as { key: string };

    // ── The same ONNX bytes in onnxruntime-node ──
    const artifacts: Record<
      string,
      { bytes: Uint8Array; sessionOptions: Record<string, string>; input: string }
    > = {};
    for (const variant of VARIANTS) {
      const resolved = (await json(
        'GET',
        `/api/v1/models/digits/resolve?alias=champion&deviceClass=browser&variant=${variant}`,
      )) as {
        manifest: { variant: string; input: { name: string }; sessionOptions?: Record<string, string> };
        artifactUrl: string;
      };
      if (resolved.manifest.variant !== variant)
        throw new Error(`asked ${variant}, got ${resolved.manifest.variant}`);
      artifacts[variant] = {
        bytes: new Uint8Array(await (await api('GET', resolved.artifactUrl)).arrayBuffer()),
        sessionOptions: resolved.manifest.sessionOptions ?? {},
        input: resolved.manifest.input.name,
      };
    }
    const defaultVariant = (
      (await json('GET', '/api/v1/models/digits/resolve?alias=champion&deviceClass=browser')) as {
        manifest: { variant: string };
      }
    ).manifest.variant;
    const x = new Float32Array(784);
    for (let i = 0; i < 784; i++) x[i] = (digits.train.images[i] ?? 0) as number;
    const nodeLatency = async (variant: string, threads: number) => {
      const a = artifacts[variant];
      if (!a) throw new Error(`no artifact ${variant}`);
      const session = await createSession(a.bytes, { threads, configEntries: a.sessionOptions });
      const feeds = { [a.input]: new Tensor('float32', x, [1, 1, 28, 28]) } as Parameters<
        typeof session.run
      >[0];
      for (let i = 0; i < warmup; i++) await session.run(feeds);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await session.run(feeds);
        times.push(performance.now() - t0);
      }
      await session.release();
      return stats(times);
    };

    // ── In the browser: one fresh context per thread count (onnxruntime-web fixes threads at init) ──
    const openPage = async (context: PwContext) => {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
      await page.goto(`${pageOrigin}/`);
      await page.waitForFunction('globalThis.benchReady === true', undefined, { timeout: 30_000 });
      return page;
    };
    const call = (page: PwPage, fn: string, arg: unknown) =>
      page.evaluate(`globalThis.bench.${fn}(${JSON.stringify(arg)})`);

    const rows: Record<string, unknown>[] = [];
    const telemetryOn: number[] = [];
    const telemetryOff: number[] = [];
    let timer:
      | { resolutionMs: number; crossOriginIsolated: boolean; hardwareConcurrency: number }
      | undefined;
    for (const threads of THREADS) {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await openPage(context);
      timer ??= (await page.evaluate('globalThis.bench.timer()')) as typeof timer;
      for (const variant of VARIANTS) {
        const web = (await call(page, 'latency', {
          cloud: cloud.urls.api,
          appKey,
          variant,
          numThreads: threads,
          warmup,
          runs,
        })) as PageLatency;
        if (web.info.variant !== variant || web.info.threads !== threads)
          throw new Error(
            `page ran ${web.info.variant} on ${web.info.threads} threads, asked ${variant}/${threads}`,
          );
        const node = await nodeLatency(variant, threads);
        const browserStats = stats(web.inference);
        rows.push({
          variant,
          threads,
          bytes: artifacts[variant]?.bytes.length,
          backend: web.info.backend,
          browser_ms: browserStats,
          browser_classify_ms: stats(web.total),
          node_ms: node,
          ratio_vs_node: round(browserStats.median / node.median, 2),
        });
      }
      if (threads === 1) {
        // Telemetry's cost per classify: the same loop with telemetry off and on, interleaved.
        for (const telemetry of [false, true, false, true]) {
          const web = (await call(page, 'latency', {
            cloud: cloud.urls.api,
            appKey,
            variant: defaultVariant,
            numThreads: threads,
            warmup,
            runs,
            telemetry,
          })) as PageLatency;
          (telemetry ? telemetryOn : telemetryOff).push(...web.total);
        }
      }
      await context.close();
    }
    const overhead = {
      variant: defaultVariant,
      threads: 1,
      classify_ms_telemetry_off: stats(telemetryOff),
      classify_ms_telemetry_on: stats(telemetryOn),
      added_ms_median: round(stats(telemetryOn).median - stats(telemetryOff).median, 3),
    };

    // ── Cold vs warm-cache first inference (default variant and threads) ──
    const coldContext = await browser.newContext();
    contexts.push(coldContext);
    const coldPage = await openPage(coldContext);
    const cold = (await call(coldPage, 'first', { cloud: cloud.urls.api, appKey })) as PageFirst;
    await coldPage.reload();
    await coldPage.waitForFunction('globalThis.benchReady === true', undefined, { timeout: 30_000 });
    const warm = (await call(coldPage, 'first', { cloud: cloud.urls.api, appKey })) as PageFirst;
    await coldContext.close();

    // ── Bundle size ──
    const ort = ['onnxruntime-web', 'onnxruntime-web/*'];
    const [sdkGzip, withZodGzip] = await Promise.all([
      bundleGzipBytes([...ort, 'zod', 'zod/*']),
      bundleGzipBytes(ort),
    ]);

    // ── Report ──
    const kb = (n: number) => round(n / 1024, 1);
    const fmt = (s: { median: number; p95: number }) => `${s.median.toFixed(3)} / ${s.p95.toFixed(3)}`;
    console.log(
      `\nChromium ${browser.version()}, cross-origin isolated: ${timer?.crossOriginIsolated}, ` +
        `performance.now() resolution ${timer?.resolutionMs.toFixed(3)} ms; ${runs} runs after ${warmup} warm-up`,
    );
    console.log(
      'variant  threads  bytes    browser ms med/p95   classify ms med/p95  node ms med/p95   ratio_vs_node',
    );
    for (const r of rows) {
      const b = r.browser_ms as { median: number; p95: number };
      const c = r.browser_classify_ms as { median: number; p95: number };
      const n = r.node_ms as { median: number; p95: number };
      console.log(
        `${String(r.variant).padEnd(8)} ${String(r.threads).padEnd(8)} ${String(r.bytes).padEnd(8)} ${fmt(b).padEnd(20)} ${fmt(c).padEnd(20)} ${fmt(n).padEnd(17)} ${r.ratio_vs_node}${r.threads === 2 ? ` (target ≤ ${TARGETS.ratio_vs_node_2_threads})` : ''}`,
      );
    }
    console.log(
      `telemetry per classify (${overhead.variant}, 1 thread, ${telemetryOn.length} calls each): ` +
        `${fmt(overhead.classify_ms_telemetry_off)} ms off, ${fmt(overhead.classify_ms_telemetry_on)} ms on ` +
        `(median +${overhead.added_ms_median.toFixed(3)} ms)`,
    );
    const firstLine = (what: string, f: PageFirst) =>
      `${what.padEnd(6)} ${f.info.variant}/${f.info.threads} threads, ${f.info.source}: navigation→result ${f.sinceNavigationMs.toFixed(0)} ms, load()→result ${f.loadToResultMs.toFixed(0)} ms (load ${f.loadMs.toFixed(0)}, first run ${f.inferenceMs.toFixed(2)})`;
    console.log(`first inference (default: browser class resolves to ${defaultVariant}):`);
    console.log(firstLine('cold', cold));
    console.log(firstLine('warm', warm));
    console.log(
      `SDK bundle min+gzip, no onnxruntime-web: ${kb(sdkGzip)} KB without zod (target ≤ ${TARGETS.sdk_gzip_kb}), ${kb(withZodGzip)} KB with zod`,
    );

    const result = {
      bench: 'web',
      at: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model,
        node: process.version,
        load_average: loadavg().map((l) => round(l, 2)),
        chromium: browser.version(),
        hardware_concurrency: timer?.hardwareConcurrency,
      },
      setup:
        'cloud (startCloud) in this process; page on a second origin with COOP/COEP importing /sdk/edgeloop-web-sdk.js; headless Chromium; onnxruntime-node via createSession in this process; loopback',
      model: {
        name: 'digits',
        version: outcome.version,
        source: modelSource,
        architecture: 'built-in CNN, default hyperparameters (conv 8→32, hidden 128)',
        test_accuracy: accuracy,
        default_browser_variant: defaultVariant,
      },
      timer: timer && {
        performance_now_resolution_ms: round(timer.resolutionMs, 4),
        cross_origin_isolated: timer.crossOriginIsolated,
      },
      method: {
        runs,
        warmup,
        browser:
          'classify().latencyMs (onnxruntime-web session.run) on a 28×28 canvas; variant via resolve ?variant=',
        node: 'session.run on a [1,1,28,28] tensor, same ONNX bytes and session options, intraOp = threads',
      },
      targets: TARGETS,
      latency: rows,
      telemetry_overhead: overhead,
      first_inference: {
        cold: {
          ...cold,
          what: 'fresh browser context: page + SDK + onnxruntime-web + resolve + download + compile + run',
        },
        warm: { ...warm, what: 'reload in the same context: artifact from Cache Storage' },
      },
      bundle: { sdk_gzip_bytes: sdkGzip, sdk_gzip_kb: kb(sdkGzip), with_zod_gzip_bytes: withZodGzip },
    };
    await mkdir(join(here, 'results'), { recursive: true });
    await writeFile(join(here, 'results', 'web.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log('wrote bench/results/web.json');
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser.close();
    server.close();
    await cloud.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
