// From "model + alias" to verified artifact bytes: resolve with the cloud, check the manifest's
// signature before downloading anything, enforce the size budget, then take the bytes from the
// cache or the network and check them against the signed sha256. Only bytes that pass every step
// are returned (and only those are ever written to the cache).
import type { ModelResolution } from '@edgeloop/shared';
import type { ArtifactCache } from './cache.ts';
import type { CloudClient } from './cloud.ts';
import { type DownloadProgress, downloadArtifact } from './download.ts';
import { EdgeloopWebError } from './errors.ts';
import { importTrustedKeys, type TrustedKey, verifyArtifact, verifyManifestSignature } from './verify.ts';

/**
 * The keys manifests are checked against: pinned by the app, or the cloud's `GET /api/v1/keys`.
 * Cloud keys are re-fetched once when a signature names a key not yet known (key rotation).
 * Pinning is stronger: a compromised or impersonated cloud cannot then swap in its own key.
 */
export class KeyRing {
  private keys: Promise<TrustedKey[]> | undefined;

  constructor(
    private readonly client: CloudClient,
    private readonly pinned: readonly string[] | undefined,
  ) {}

  private load(): Promise<TrustedKey[]> {
    const loading = this.pinned
      ? importTrustedKeys(this.pinned)
      : this.client.keys().then((set) => importTrustedKeys(set.keys));
    loading.catch(() => {
      if (this.keys === loading) this.keys = undefined;
    });
    this.keys = loading;
    return loading;
  }

  /** Trusted keys, fetched again when `keyId` is unknown and the keys come from the cloud. */
  async forKeyId(keyId: string | undefined): Promise<TrustedKey[]> {
    const keys = await (this.keys ?? this.load());
    if (this.pinned || keyId === undefined || keys.some((k) => k.keyId === keyId)) return keys;
    return this.load();
  }
}

/** Where an artifact's bytes came from. */
export type ArtifactSource = 'cache' | 'network';

export interface VerifiedArtifact {
  resolution: ModelResolution;
  bytes: Uint8Array;
  source: ArtifactSource;
}

export interface ArtifactFetcher {
  client: CloudClient;
  keyRing: KeyRing;
  cache: ArtifactCache | undefined;
  /** Largest artifact accepted (the browser profile's `maxModelBytes`). */
  maxModelBytes: number;
  onProgress?: ((progress: DownloadProgress & { model: string; version: string }) => void) | undefined;
}

/**
 * Resolves `model@alias` for a device class and checks the manifest's signature.
 *
 * @example
 * const resolution = await resolveSigned(fetcher, 'digits', 'champion', 'browser');
 */
export async function resolveSigned(
  fetcher: ArtifactFetcher,
  model: string,
  alias: string,
  deviceClass: string,
): Promise<ModelResolution> {
  const resolution = await fetcher.client.resolve(model, alias, deviceClass);
  const keys = await fetcher.keyRing.forKeyId(resolution.signature?.keyId);
  await verifyManifestSignature(resolution.manifest, resolution.signature, keys);
  if (resolution.manifest.size > fetcher.maxModelBytes) {
    throw new EdgeloopWebError(
      'MODEL_TOO_LARGE',
      `${model}@${resolution.manifest.version} is ${resolution.manifest.size} bytes; this client accepts at most ${fetcher.maxModelBytes}`,
    );
  }
  return resolution;
}

/**
 * The verified bytes of a signed resolution: from the cache when present and intact, otherwise
 * downloaded, verified and then cached.
 *
 * @example
 * const { bytes, source } = await obtainArtifact(fetcher, resolution);
 */
export async function obtainArtifact(
  fetcher: ArtifactFetcher,
  resolution: ModelResolution,
): Promise<VerifiedArtifact> {
  const { manifest } = resolution;
  const cached = await fetcher.cache?.read(manifest);
  if (cached) return { resolution, bytes: cached, source: 'cache' };
  const url = fetcher.client.url(resolution.artifactUrl);
  const onProgress = fetcher.onProgress;
  const bytes = await downloadArtifact(url, {
    expectedSize: manifest.size,
    headers: fetcher.client.headersFor(url),
    ...(onProgress
      ? {
          onProgress: (p: DownloadProgress) =>
            onProgress({ ...p, model: manifest.name, version: manifest.version }),
        }
      : {}),
  });
  await verifyArtifact(bytes, manifest);
  try {
    await fetcher.cache?.write(manifest, bytes);
  } catch {
    // Quota exceeded or storage evicted: the model still works, it is just downloaded next time.
  }
  return { resolution, bytes, source: 'network' };
}
