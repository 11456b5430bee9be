// The browser-facing files through the real routes: onnxruntime-web's allow-listed files with their
// types, isolation and caching headers, gzip and 304s; the SDK bundle (onnxruntime-web inside, no
// bare imports a page could not resolve); the demo page (isolated, nothing from elsewhere).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { findOrtDist, type OrtDist } from './ort-files.ts';
import { webRoutes } from './routes.ts';

const app = webRoutes();
let dist: OrtDist;

beforeAll(async () => {
  dist = await findOrtDist();
});

const get = (path: string, headers: Record<string, string> = {}) => app.request(path, { headers });

describe('onnxruntime-web files', () => {
  it('serves the wasm build with its content types, COEP + CORP, gzip and a strong ETag', async () => {
    for (const [name, type] of [
      ['ort-wasm-simd-threaded.wasm', 'application/wasm'],
      ['ort-wasm-simd-threaded.mjs', 'text/javascript'],
    ] as const) {
      const res = await get(`/sdk/ort/${name}`, { 'accept-encoding': 'gzip, br' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(res.headers.get('cache-control')).toBe('public, no-cache');
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      const bytes = gunzipSync(new Uint8Array(await res.arrayBuffer()));
      expect(bytes.equals(await readFile(join(dist.dir, name)))).toBe(true);
      // Revalidation costs a round trip, not 14 MB.
      const again = await get(`/sdk/ort/${name}`, {
        'accept-encoding': 'gzip',
        'if-none-match': res.headers.get('etag')!,
      });
      expect(again.status).toBe(304);
      expect(again.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    }
  });

  it('serves identity bytes to a client without gzip, and caches the versioned path forever', async () => {
    const plain = await get('/sdk/ort/ort-wasm-simd-threaded.mjs', { 'accept-encoding': 'gzip;q=0' });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(
      Buffer.from(await plain.arrayBuffer()).equals(
        await readFile(join(dist.dir, 'ort-wasm-simd-threaded.mjs')),
      ),
    ).toBe(true);
    const versioned = await get(`/sdk/ort/${dist.version}/ort-wasm-simd-threaded.wasm`);
    expect(versioned.status).toBe(200);
    expect(versioned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(versioned.headers.get('etag')).toContain(dist.version);
    expect((await get('/sdk/ort/1.0.0/ort-wasm-simd-threaded.wasm')).status).toBe(404);
  });

  it('serves nothing outside the allow-list: other builds, source maps, paths out of dist', async () => {
    for (const path of [
      '/sdk/ort/ort-wasm-simd-threaded.jsep.wasm',
      '/sdk/ort/ort.all.min.mjs',
      '/sdk/ort/ort.wasm.min.mjs.map',
      '/sdk/ort/..%2Fpackage.json',
      '/sdk/ort/%2E%2E/%2E%2E/package.json',
    ]) {
      expect({ path, status: (await get(path)).status }).toEqual({ path, status: 404 });
    }
  });
});

describe('web SDK bundle', () => {
  it('is one ES module with onnxruntime-web inside, importable cross-origin', async () => {
    const started = performance.now();
    const res = await get('/sdk/edgeloop-web-sdk.js');
    const buildMs = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const code = await res.text();
    expect(code).toMatch(/export\s*\{/);
    // ORT's JS API is bundled; the only bare import left is the opt-in WebGPU build.
    const specifiers = /(?<![\w$.-])(?:import\s*\(\s*|from\s*)["']([^"']+)["']/g;
    const bare = [...code.matchAll(specifiers)].map((m) => m[1]).filter((s) => !/^(\.|\/|https?:)/.test(s!));
    expect([...new Set(bare)]).toEqual(['onnxruntime-web/webgpu']);
    expect(code).toContain('ort-wasm-simd-threaded');
    const etag = res.headers.get('etag')!;
    expect((await get('/sdk/edgeloop-web-sdk.js', { 'if-none-match': etag })).status).toBe(304);
    console.info(
      `web SDK bundle: ${(code.length / 1024).toFixed(0)} KB, first request ${buildMs.toFixed(0)} ms`,
    );
  });
});

describe('demo page', () => {
  it('is cross-origin isolated, loads only from its own origin, and points ORT at the versioned path', async () => {
    const res = await get('/demo');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(html).toContain(`data-wasm-paths="/sdk/ort/${dist.version}/"`);
    const script = await get('/demo/demo.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const js = await script.text();
    expect(js).toContain("from '/sdk/edgeloop-web-sdk.js'");
    expect(js).not.toMatch(/https?:\/\//);
  });
});
