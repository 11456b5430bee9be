// The SDK's own bundle size: web-sdk/src bundled with esbuild (a dependency of the browser tests,
// loaded from there), minified and gzipped, as test/web-sdk/bundle-size.test.ts builds it.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');

// esbuild is the browser tests' dependency: load it from there.
const testRequire = createRequire(join(bench, '..', 'test', 'package.json'));

// ── Minimal shape of what is used from esbuild ───────────────────────────────────────────────────
interface Esbuild {
  build(o: Record<string, unknown>): Promise<{ outputFiles: { contents: Uint8Array }[] }>;
}

/** SDK (with shared) min+gzip, onnxruntime-web and optionally zod external. */
export async function bundleGzipBytes(external: string[]): Promise<number> {
  const { build } = testRequire('esbuild') as Esbuild;
  const result = await build({
    entryPoints: [join(bench, '..', 'web-sdk', 'src', 'index.ts')],
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
