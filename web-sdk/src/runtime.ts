// onnxruntime-web behind one small interface. The wasm build (`onnxruntime-web/wasm`: SIMD, threads
// when the page is cross-origin isolated) is the default; WebGPU is opt-in and falls back to wasm.
// Importing the package root would pull the 28 MB JSEP wasm instead of the 14 MB plain one, and
// the WebGPU build is only loaded when asked for, so pages that never use it never download it.
//
// The wasm files come from `wasmPaths` (the cloud's `/sdk/ort/` by default, or the app's origin),
// never from a CDN. Threads need these response headers on the page:
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
import type { ModelManifest } from '@edgeloop/shared';
import type * as Ort from 'onnxruntime-web';
import { asWebError, EdgeloopWebError } from './errors.ts';
import { configEntriesToExtra, defaultThreadCount } from './session-options.ts';

/** Which onnxruntime-web build and execution provider runs the model. */
export type Backend = 'wasm' | 'webgpu';

export interface RuntimeOptions {
  /** URL prefix (ending in `/`) the `ort-wasm-*.{mjs,wasm}` files are served from. */
  wasmPaths: string;
  /** Try WebGPU first when the browser has it. Default false. */
  webgpu?: boolean;
  /** Override the intra-op thread count (default: see `defaultThreadCount`). */
  numThreads?: number;
  /** Give up on session creation after this long (default 60 s). */
  loadTimeoutMs?: number;
}

/** A loaded model: run one float32 input, get every output as float32. */
export interface ModelSession {
  readonly backend: Backend;
  /** Intra-op threads onnxruntime-web was configured with. */
  readonly threads: number;
  run(input: Float32Array, dims: readonly number[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

type OrtModule = typeof Ort;

const runtimes = new Map<Backend, Promise<OrtModule>>();

/** Imports one build of onnxruntime-web once and configures its (global) env before first use. */
function loadRuntime(backend: Backend, options: RuntimeOptions): Promise<OrtModule> {
  let loading = runtimes.get(backend);
  if (!loading) {
    loading = (backend === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm')).then(
      (ort) => {
        ort.env.wasm.wasmPaths = options.wasmPaths;
        ort.env.wasm.numThreads =
          options.numThreads ??
          defaultThreadCount(globalThis.crossOriginIsolated === true, navigator.hardwareConcurrency);
        // The proxy worker would copy every input across threads; inputs here are small.
        ort.env.wasm.proxy = false;
        return ort;
      },
    );
    runtimes.set(backend, loading);
    loading.catch(() => runtimes.delete(backend)); // allow a retry after a failed import
  }
  return loading;
}

async function createOn(
  backend: Backend,
  bytes: Uint8Array,
  manifest: ModelManifest,
  options: RuntimeOptions,
): Promise<ModelSession> {
  const ort = await loadRuntime(backend, options);
  const creating = ort.InferenceSession.create(bytes, {
    executionProviders: [backend],
    graphOptimizationLevel: 'all',
    extra: configEntriesToExtra(manifest.sessionOptions),
  });
  // onnxruntime-web never settles when its thread workers are blocked (an isolated page whose
  // ort-wasm-simd-threaded.mjs lacks COEP): turn that hang into an error that names the cause.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeoutMs = options.loadTimeoutMs ?? 60_000;
  const session = await Promise.race([
    creating,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EdgeloopWebError(
              'TIMEOUT',
              `onnxruntime-web did not create a session within ${timeoutMs} ms (on a cross-origin isolated page, ` +
                'serve ort-wasm-simd-threaded.mjs with Cross-Origin-Embedder-Policy: require-corp)',
            ),
          ),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    backend,
    threads: ort.env.wasm.numThreads ?? 1,
    async run(input, dims) {
      const feeds = { [manifest.input.name]: new ort.Tensor('float32', input, dims) };
      const results = await session.run(feeds);
      const out: Record<string, Float32Array> = {};
      for (const [name, tensor] of Object.entries(results)) {
        out[name] =
          tensor.data instanceof Float32Array
            ? tensor.data
            : Float32Array.from(tensor.data as ArrayLike<number>);
        tensor.dispose();
      }
      return out;
    },
    release: () => session.release(),
  };
}

/**
 * Creates an inference session for verified artifact bytes. With `webgpu: true` and a browser that
 * has `navigator.gpu`, WebGPU is tried first; any failure there falls back to wasm.
 *
 * @example
 * const session = await createModelSession(bytes, manifest, { wasmPaths: '/ort/' });
 * const outputs = await session.run(tensor, [1, 1, 28, 28]);
 */
export async function createModelSession(
  bytes: Uint8Array,
  manifest: ModelManifest,
  options: RuntimeOptions,
): Promise<ModelSession> {
  if (options.webgpu && typeof navigator !== 'undefined' && 'gpu' in navigator) {
    try {
      return await createOn('webgpu', bytes, manifest, options);
    } catch {
      // No adapter, an unsupported op, or the JSEP files missing: wasm always works.
    }
  }
  try {
    return await createOn('wasm', bytes, manifest, options);
  } catch (err) {
    throw asWebError(
      err,
      'MODEL_LOAD_FAILED',
      `onnxruntime-web could not load ${manifest.name}@${manifest.version}`,
    );
  }
}
