// Verified artifacts kept in Cache Storage, keyed by sha256, so a reload (or a second tab) makes no
// network request for a model it already has. Content addressing makes the cache safe to share:
// an entry is only ever the bytes that hash to its key, and every read hashes them again (storage can
// be edited from devtools or corrupted), evicting on mismatch.
import type { ModelManifest } from '@edgeloop/shared';
import { EdgeloopWebError } from './errors.ts';
import { verifyArtifact } from './verify.ts';

/** Cache keys must be http(s) URLs; this host is reserved (RFC 2606) and never fetched. */
const KEY_PREFIX = 'https://artifacts.edgeloop.invalid/sha256/';
const MODEL_HEADER = 'x-edgeloop-model';

/**
 * A content-addressed artifact store in Cache Storage.
 *
 * @example
 * const cache = await ArtifactCache.open();
 * const bytes = (await cache?.read(manifest)) ?? (await download());
 */
export class ArtifactCache {
  private constructor(private readonly cache: Cache) {}

  /** Opens the named cache; undefined where Cache Storage is unavailable (insecure context, some WebViews). */
  static async open(name = 'edgeloop-models-v1'): Promise<ArtifactCache | undefined> {
    if (typeof caches === 'undefined') return undefined;
    try {
      return new ArtifactCache(await caches.open(name));
    } catch {
      return undefined; // e.g. storage disabled in private mode: work uncached
    }
  }

  /** The verified bytes for the manifest's sha256, or undefined (a corrupt entry is evicted). */
  async read(manifest: Pick<ModelManifest, 'sha256' | 'size'>): Promise<Uint8Array | undefined> {
    const hit = await this.cache.match(KEY_PREFIX + manifest.sha256);
    if (!hit) return undefined;
    const bytes = new Uint8Array(await hit.arrayBuffer());
    try {
      await verifyArtifact(bytes, manifest);
      return bytes;
    } catch (err) {
      if (!(err instanceof EdgeloopWebError)) throw err;
      await this.cache.delete(KEY_PREFIX + manifest.sha256);
      return undefined;
    }
  }

  /** Stores bytes that were already verified against the manifest. */
  async write(manifest: Pick<ModelManifest, 'sha256' | 'name'>, bytes: Uint8Array): Promise<void> {
    const body = new Blob([bytes.slice().buffer as ArrayBuffer], { type: 'application/octet-stream' });
    await this.cache.put(
      KEY_PREFIX + manifest.sha256,
      new Response(body, {
        headers: { [MODEL_HEADER]: manifest.name, 'content-length': String(bytes.length) },
      }),
    );
  }

  /** Deletes this model's artifacts except `keep`, so superseded versions do not pile up. */
  async prune(model: string, keep: readonly string[]): Promise<number> {
    let removed = 0;
    for (const request of await this.cache.keys()) {
      if (!request.url.startsWith(KEY_PREFIX)) continue;
      const sha = request.url.slice(KEY_PREFIX.length);
      if (keep.includes(sha)) continue;
      const entry = await this.cache.match(request);
      if (entry?.headers.get(MODEL_HEADER) === model && (await this.cache.delete(request))) removed++;
    }
    return removed;
  }

  /** The sha256 of every artifact held (for diagnostics and tests). */
  async list(): Promise<string[]> {
    return (await this.cache.keys())
      .filter((r) => r.url.startsWith(KEY_PREFIX))
      .map((r) => r.url.slice(KEY_PREFIX.length));
  }
}
