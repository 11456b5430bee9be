// The measurements in the page: inference latency per variant and thread count (next to the Node
// baseline), what telemetry adds to `classify()`, and cold vs warm-cache first inference.
import type { PwBrowser, PwContext } from './browser.ts';
import {
  callBench,
  openPage,
  type PageFirst,
  type PageLatency,
  type PageTimer,
  waitForBench,
} from './page.ts';
import { round, type Stats, stats } from './stats.ts';

/** Where the page is, which cloud and app key it loads the model with, and how many runs it times. */
export interface PageSetup {
  browser: PwBrowser;
  /** Contexts opened here are added, so the caller can close them should a measurement fail. */
  contexts: PwContext[];
  pageOrigin: string;
  cloud: string;
  appKey: string;
  warmup: number;
  runs: number;
}

/**
 * Latency of each variant at each thread count, in one fresh context per thread count
 * (onnxruntime-web fixes threads at init), each row with the Node baseline's; on one thread also
 * the default variant's classify time with telemetry off and on, interleaved.
 */
export async function browserLatency(
  setup: PageSetup,
  options: {
    variants: readonly string[];
    threads: readonly number[];
    defaultVariant: string;
    artifactBytes: (variant: string) => number | undefined;
    nodeLatency: (variant: string, threads: number) => Promise<Stats>;
  },
) {
  const { browser, contexts, pageOrigin, appKey, warmup, runs } = setup;
  const rows: Record<string, unknown>[] = [];
  const telemetryOn: number[] = [];
  const telemetryOff: number[] = [];
  let timer: PageTimer | undefined;
  for (const threads of options.threads) {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openPage(context, pageOrigin);
    timer ??= (await page.evaluate('globalThis.bench.timer()')) as typeof timer;
    for (const variant of options.variants) {
      const web = (await callBench(page, 'latency', {
        cloud: setup.cloud,
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
      const node = await options.nodeLatency(variant, threads);
      const browserStats = stats(web.inference);
      rows.push({
        variant,
        threads,
        bytes: options.artifactBytes(variant),
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
        const web = (await callBench(page, 'latency', {
          cloud: setup.cloud,
          appKey,
          variant: options.defaultVariant,
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
  return { rows, telemetryOn, telemetryOff, timer };
}

/** First inference (default variant and threads) in a fresh context, then after a reload in it (Cache Storage). */
export async function firstInference(setup: PageSetup): Promise<{ cold: PageFirst; warm: PageFirst }> {
  const coldContext = await setup.browser.newContext();
  setup.contexts.push(coldContext);
  const coldPage = await openPage(coldContext, setup.pageOrigin);
  const cold = (await callBench(coldPage, 'first', {
    cloud: setup.cloud,
    appKey: setup.appKey,
  })) as PageFirst;
  await coldPage.reload();
  await waitForBench(coldPage);
  const warm = (await callBench(coldPage, 'first', {
    cloud: setup.cloud,
    appKey: setup.appKey,
  })) as PageFirst;
  await coldContext.close();
  return { cold, warm };
}
