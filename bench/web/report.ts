// Report: the printed tables and bench/results/web.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelOutcome } from './cloud.ts';
import type { PageFirst, PageTimer } from './page.ts';
import { round, stats } from './stats.ts';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');

export const TARGETS = { ratio_vs_node_2_threads: 3, sdk_gzip_kb: 25 };

/** Everything the web bench measured, and what it measured it on. */
export interface WebBenchResults {
  chromium: string;
  timer: PageTimer | undefined;
  runs: number;
  warmup: number;
  model: { outcome: ModelOutcome; source: string; accuracy: Record<string, number | null> };
  defaultVariant: string;
  rows: Record<string, unknown>[];
  telemetryOn: number[];
  telemetryOff: number[];
  cold: PageFirst;
  warm: PageFirst;
  sdkGzip: number;
  withZodGzip: number;
}

/** Prints the tables and writes bench/results/web.json. */
export async function report(results: WebBenchResults): Promise<void> {
  const { timer, runs, warmup, rows, telemetryOn, telemetryOff, cold, warm, sdkGzip, withZodGzip } = results;
  const { defaultVariant } = results;
  const overhead = {
    variant: defaultVariant,
    threads: 1,
    classify_ms_telemetry_off: stats(telemetryOff),
    classify_ms_telemetry_on: stats(telemetryOn),
    added_ms_median: round(stats(telemetryOn).median - stats(telemetryOff).median, 3),
  };

  const kb = (n: number) => round(n / 1024, 1);
  const fmt = (s: { median: number; p95: number }) => `${s.median.toFixed(3)} / ${s.p95.toFixed(3)}`;
  console.log(
    `\nChromium ${results.chromium}, cross-origin isolated: ${timer?.crossOriginIsolated}, ` +
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
      chromium: results.chromium,
      hardware_concurrency: timer?.hardwareConcurrency,
    },
    setup:
      'cloud (startCloud) in this process; page on a second origin with COOP/COEP importing /sdk/edgeloop-web-sdk.js; headless Chromium; onnxruntime-node via createSession in this process; loopback',
    model: {
      name: 'digits',
      version: results.model.outcome.version,
      source: results.model.source,
      architecture: 'built-in CNN, default hyperparameters (conv 8→32, hidden 128)',
      test_accuracy: results.model.accuracy,
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
  await mkdir(join(bench, 'results'), { recursive: true });
  await writeFile(join(bench, 'results', 'web.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log('wrote bench/results/web.json');
}
