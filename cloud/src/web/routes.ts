// What the cloud serves to browsers outside the API: onnxruntime-web's wasm build under /sdk/ort/,
// the web SDK bundle, and the demo page. Public files (no key): they are open-source code, and the
// models they run are fetched through the API with an app key.
import { readFile } from 'node:fs/promises';
import { errorEnvelope } from '@edgeloop/shared';
import { type Context, Hono } from 'hono';
import { DEMO_HEADERS, DEMO_SCRIPT_PATH, demoPage } from './demo-page.ts';
import { ORT_FILES, OrtFiles } from './ort-files.ts';
import { bundleWebSdk, SDK_BUNDLE_PATH } from './sdk-bundle.ts';
import { makeAsset, type StaticAsset, sendAsset } from './static-asset.ts';

/**
 * Scripts may be imported by (and ORT's loader fetched from) pages of other origins, including
 * cross-origin isolated ones: CORP cross-origin + CORS let them, COEP on the loader lets ORT start
 * its thread workers from it (without it an isolated page blocks the worker and session creation
 * hangs).
 */
const PUBLIC_SCRIPT = {
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Access-Control-Allow-Origin': '*',
  'X-Content-Type-Options': 'nosniff',
};
/** Unversioned URLs revalidate (a 304 costs a round trip, not 14 MB); versioned ones never change. */
const REVALIDATE = 'public, no-cache';
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface WebRoutesOptions {
  ort?: OrtFiles;
  /** Builds the SDK bundle (default: esbuild from the web SDK's source, once). */
  bundle?: () => Promise<StaticAsset>;
}

/** The API's error envelope, answered here so these routes behave the same mounted or alone. */
function notFound(c: Context, message: string): Response {
  return c.json(errorEnvelope('NOT_FOUND', message), 404);
}

/** Caches a rejected build no longer than its request: the next request tries again. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make();
    pending.catch(() => {
      pending = undefined;
    });
    return pending;
  };
}

export function webRoutes(options: WebRoutesOptions = {}) {
  const ort = options.ort ?? new OrtFiles();
  const sdk = once(options.bundle ?? bundleWebSdk);
  const script = once(async () =>
    makeAsset(
      'text/javascript; charset=utf-8',
      '"demo-js"',
      await readFile(new URL('./demo/demo.js', import.meta.url)),
    ),
  );
  const app = new Hono();

  const serveOrt = async (c: Context, name: string, cacheControl: string) => {
    const asset = ort.get(name);
    if (asset === undefined) {
      return notFound(c, `not served: ${name} (only ${Object.keys(ORT_FILES).join(', ')})`);
    }
    return sendAsset(c, await asset, { ...PUBLIC_SCRIPT, 'Cache-Control': cacheControl });
  };
  app.get('/sdk/ort/:file', (c) => serveOrt(c, c.req.param('file'), REVALIDATE));
  app.get('/sdk/ort/:version/:file', async (c) => {
    const version = await ort.version();
    if (c.req.param('version') !== version) {
      return notFound(c, `this cloud serves onnxruntime-web ${version} only`);
    }
    return serveOrt(c, c.req.param('file'), IMMUTABLE);
  });

  app.get(SDK_BUNDLE_PATH, async (c) =>
    sendAsset(c, await sdk(), { ...PUBLIC_SCRIPT, 'Cache-Control': REVALIDATE }),
  );

  app.get('/demo', async (c) => {
    const html = demoPage({ wasmPaths: `/sdk/ort/${await ort.version()}/` });
    return c.html(html, 200, DEMO_HEADERS);
  });
  app.get(DEMO_SCRIPT_PATH, async (c) =>
    sendAsset(c, await script(), { 'Cache-Control': REVALIDATE, 'X-Content-Type-Options': 'nosniff' }),
  );
  return app;
}
