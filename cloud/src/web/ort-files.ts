// onnxruntime-web's wasm build, served to browsers from the cloud (never a CDN): only the two files
// the SDK's `onnxruntime-web/wasm` import fetches at run time. The version is the one the web SDK
// depends on, found through the SDK's own package so the bundle and these files always agree.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { makeAsset, type StaticAsset } from './static-asset.ts';

/** The wasm build's loader (started as a module worker for threads) and its binary. */
export const ORT_FILES: Readonly<Record<string, string>> = {
  'ort-wasm-simd-threaded.mjs': 'text/javascript',
  'ort-wasm-simd-threaded.wasm': 'application/wasm',
};

export interface OrtDist {
  version: string;
  dir: string;
}

/** Where the SDK's onnxruntime-web lives on disk, and its version. */
export async function findOrtDist(): Promise<OrtDist> {
  const sdkEntry = createRequire(import.meta.url).resolve('@edgeloop/web-sdk');
  // The package's exports hide package.json; its `require` entry sits in dist/.
  const dir = dirname(createRequire(sdkEntry).resolve('onnxruntime-web'));
  const pkg = JSON.parse(await readFile(join(dir, '..', 'package.json'), 'utf8')) as { version: string };
  return { version: pkg.version, dir };
}

/** Loads (once) and keeps the allowed files; anything else is not served. */
export class OrtFiles {
  readonly #dist: Promise<OrtDist>;
  readonly #assets = new Map<string, Promise<StaticAsset>>();

  constructor(dist: Promise<OrtDist> = findOrtDist()) {
    this.#dist = dist;
    this.#dist.catch(() => undefined); // reported on first request, not as an unhandled rejection
  }

  version(): Promise<string> {
    return this.#dist.then((d) => d.version);
  }

  /** The file, or undefined for a name outside the allow-list. */
  get(name: string): Promise<StaticAsset> | undefined {
    const type = ORT_FILES[name];
    if (type === undefined) return undefined;
    let asset = this.#assets.get(name);
    if (!asset) {
      asset = this.#dist.then(async ({ dir, version }) =>
        makeAsset(type, `"ort-${version}-${name}"`, await readFile(join(dir, name))),
      );
      this.#assets.set(name, asset);
      asset.catch(() => this.#assets.delete(name));
    }
    return asset;
  }
}
