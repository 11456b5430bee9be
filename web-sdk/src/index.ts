// @edgeloop/web-sdk — edgeloop models in browsers and web views: resolve through the cloud, verify
// (sha256 + Ed25519), cache, run on onnxruntime-web, follow the alias as it moves.

import { type ArtifactFetcher, KeyRing, obtainArtifact, resolveSigned } from './artifacts.ts';
import { ArtifactCache } from './cache.ts';
import { CloudClient } from './cloud.ts';
import type { DownloadProgress } from './download.ts';
import { EdgeloopWebError } from './errors.ts';
import { EdgeloopModel } from './model.ts';
import { type TelemetryOptions, WebTelemetry } from './telemetry.ts';

export { ArtifactCache } from './cache.ts';
export { EdgeloopWebError } from './errors.ts';
export type { Classification, ModelInfo, ModelUpdate } from './model.ts';
export { EdgeloopModel } from './model.ts';
export { rgbaToTensor } from './pixels.ts';
export { type ImageSource, readRgba, toInputTensor } from './preprocess.ts';
export type { Backend } from './runtime.ts';
export type { ClassScore } from './scores.ts';
export type { TelemetryOptions, TelemetryStatus, WebTelemetry } from './telemetry.ts';

/** The browser device-class profile's artifact budget (firmware-configs/browser.yaml). */
export const DEFAULT_MAX_MODEL_BYTES = 16 * 1024 * 1024;

/** Download progress of an artifact, with which model it is for. */
export interface LoadProgress extends DownloadProgress {
  model: string;
  version: string;
}

export interface LoadOptions {
  /** Base URL of the edgeloop cloud. */
  cloud: string;
  /** The app's key; sent as a bearer token to the cloud (never to other origins). */
  appKey: string;
  /** Model name in the registry. */
  model: string;
  /** Alias to follow. Default `champion`. */
  alias?: string;
  /** Device class the cloud resolves the variant for. Default `browser`. */
  deviceClass?: string;
  /**
   * Pinned Ed25519 public keys (raw 32 bytes, base64). Default: the cloud's `GET /api/v1/keys`.
   * Pin in production: then not even the cloud's API can substitute a signing key.
   */
  publicKeys?: string[];
  /** Where onnxruntime-web's `ort-wasm-*` files are served. Default `${cloud}/sdk/ort/`. */
  wasmPaths?: string;
  /** Try WebGPU first when available (needs the JSEP files at `wasmPaths`). Default false. */
  webgpu?: boolean;
  /** Intra-op threads; default 1, or up to 4 on cross-origin isolated pages. */
  numThreads?: number;
  /** Give up on onnxruntime-web session creation after this long (ms). Default 60 s. */
  loadTimeoutMs?: number;
  /** Check for a new version this often (ms). Default: only on `checkForUpdate()`. */
  updateIntervalMs?: number;
  /** Refuse artifacts larger than this. Default 16 MiB. */
  maxModelBytes?: number;
  /** Cache Storage name, or false to keep nothing. Default `edgeloop-models-v1`. */
  cache?: string | false;
  /**
   * Telemetry windows (counts, latency, classes, confidence, drift sketches — no images) sent to the
   * cloud under an anonymous install id kept in localStorage. On by default; `false` sends and
   * stores nothing. The app key needs the `telemetry:write` scope.
   */
  telemetry?: boolean | TelemetryOptions;
  /** Download progress. */
  onProgress?: (progress: LoadProgress) => void;
  /** A fetch to use instead of the global one (tests, auth proxies). */
  fetch?: typeof fetch;
}

/**
 * Resolves, verifies, caches and loads a model. Rejects with an `EdgeloopWebError` whose `code`
 * says why: SIGNATURE_MISSING / SIGNATURE_INVALID (unsigned or forged manifest), CHECKSUM_MISMATCH
 * (artifact bytes do not match the signed sha256), MODEL_TOO_LARGE, MODEL_LOAD_FAILED, TIMEOUT,
 * UNAUTHENTICATED, NOT_FOUND, UNAVAILABLE, VALIDATION_FAILED.
 *
 * @example
 * import * as edgeloop from '@edgeloop/web-sdk';
 * const model = await edgeloop.load({
 *   cloud: 'https://edgeloop.example.com',
 *   appKey: 'app_…',
 *   model: 'digits',
 *   alias: 'champion',
 *   onProgress: ({ loaded, total }) => console.log(`${loaded}/${total}`),
 * });
 * const { label, confidence, topK, latencyMs } = await model.classify(canvas);
 */
export async function load(options: LoadOptions): Promise<EdgeloopModel> {
  if (!options.model) throw new EdgeloopWebError('VALIDATION_FAILED', 'model is required');
  const client = new CloudClient({
    cloud: options.cloud,
    appKey: options.appKey,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const fetcher: ArtifactFetcher = {
    client,
    keyRing: new KeyRing(client, options.publicKeys),
    cache: options.cache === false ? undefined : await ArtifactCache.open(options.cache),
    maxModelBytes: options.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES,
    onProgress: options.onProgress,
  };
  const ctx = {
    fetcher,
    model: options.model,
    alias: options.alias ?? 'champion',
    deviceClass: options.deviceClass ?? 'browser',
    runtime: {
      wasmPaths: options.wasmPaths ?? client.url('sdk/ort/'),
      ...(options.webgpu === undefined ? {} : { webgpu: options.webgpu }),
      ...(options.numThreads === undefined ? {} : { numThreads: options.numThreads }),
      ...(options.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: options.loadTimeoutMs }),
    },
  };
  const resolution = await resolveSigned(fetcher, ctx.model, ctx.alias, ctx.deviceClass);
  const artifact = await obtainArtifact(fetcher, resolution);
  const telemetry =
    options.telemetry === false
      ? undefined
      : new WebTelemetry(client, options.appKey, options.telemetry === true ? {} : options.telemetry);
  let model: EdgeloopModel;
  try {
    model = await EdgeloopModel.create({ ...ctx, ...(telemetry ? { telemetry } : {}) }, artifact);
  } catch (err) {
    await telemetry?.dispose();
    throw err;
  }
  if (options.updateIntervalMs !== undefined) model.startUpdates(options.updateIntervalMs);
  return model;
}
