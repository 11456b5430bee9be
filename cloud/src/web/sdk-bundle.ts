// The web SDK as one ES module for pages that load it from the cloud:
//   import * as edgeloop from 'https://cloud.example.com/sdk/edgeloop-web-sdk.js';
// Built with esbuild on first request and kept in memory (~350 ms, 184 KB, 57 KB gzip).
//
// onnxruntime-web's JS API is bundled in, measured against leaving it to an import map: the page
// then needs no import map and makes one request fewer, for the same bytes (SDK+zod 134 KB plus
// ort.wasm.min.mjs 50 KB). The `onnxruntime-web-use-extern-wasm` condition picks the build that
// fetches its wasm loader from `wasmPaths` (our /sdk/ort/) instead of inlining it, so thread
// workers start from a file served with COEP. The WebGPU build stays external: `webgpu: true`
// needs an app's own bundle (the SDK falls back to wasm when that import fails).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { makeAsset, type StaticAsset } from './static-asset.ts';

export const SDK_BUNDLE_PATH = '/sdk/edgeloop-web-sdk.js';

export async function bundleWebSdk(): Promise<StaticAsset> {
  const entry = createRequire(import.meta.url).resolve('@edgeloop/web-sdk');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    conditions: ['onnxruntime-web-use-extern-wasm'],
    external: ['onnxruntime-web/webgpu'],
    legalComments: 'eof',
    write: false,
    logLevel: 'silent',
  });
  const body = result.outputFiles[0]?.contents;
  if (!body) throw new Error('esbuild produced no output for the web SDK');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return makeAsset('text/javascript; charset=utf-8', `"sdk-${hash}"`, body);
}
