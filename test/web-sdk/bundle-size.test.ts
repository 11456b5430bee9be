// The SDK's weight on an app, as esbuild ships it (minified ESM, gzip), onnxruntime-web excluded
// (the app loads it from wasmPaths anyway). zod is reported separately: it comes in through
// @edgeloop/shared's schemas, and how shared imports it decides most of the total.
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

const entry = fileURLToPath(new URL('../../web-sdk/src/index.ts', import.meta.url));
const ORT = ['onnxruntime-web', 'onnxruntime-web/*'];
const BUDGET = 25 * 1024;

async function gzipBytes(external: string[]): Promise<number> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    write: false,
    logLevel: 'silent',
  });
  return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
}

/**
 * shared imports zod as a namespace (`import * as z from 'zod'`): the named `{ z }` re-export kept
 * every zod locale (~260 KB minified) alive in esbuild and pushed the total past 100 KB gzip.
 */
const WITH_ZOD_CEILING = 60 * 1024;

it('keeps the SDK (with shared, without zod and onnxruntime-web) within 25 KB gzip', async () => {
  const [own, total] = await Promise.all([gzipBytes([...ORT, 'zod', 'zod/*']), gzipBytes(ORT)]);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.info(`web-sdk bundle (min+gzip, no onnxruntime-web): SDK+shared ${kb(own)}; with zod ${kb(total)}`);
  expect(own).toBeLessThanOrEqual(BUDGET);
  expect(total).toBeLessThanOrEqual(WITH_ZOD_CEILING);
});
