// Artifact download with progress. The body is read as a stream into a buffer of the manifest's
// size, so progress is exact and a server that sends more than the signed size is cut off at once
// instead of filling memory.
import { EdgeloopWebError } from './errors.ts';
import { fetchOrThrow } from './http.ts';

/** Bytes received so far and the total expected (the signed manifest's size). */
export interface DownloadProgress {
  loaded: number;
  total: number;
}

export interface DownloadOptions {
  /** Exact size from the signed manifest: more bytes than this abort the download. */
  expectedSize: number;
  headers?: Record<string, string>;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/**
 * Fetches an artifact, reporting progress; the result is unverified (see verify.ts).
 *
 * @example
 * const bytes = await downloadArtifact(url, {
 *   expectedSize: manifest.size,
 *   onProgress: ({ loaded, total }) => bar.value = loaded / total,
 * });
 */
export async function downloadArtifact(url: string, options: DownloadOptions): Promise<Uint8Array> {
  const { expectedSize, onProgress } = options;
  const response = await fetchOrThrow(
    options.fetch ?? fetch,
    url,
    {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      // The artifact is content-addressed and verified; the SDK's own cache is the one that counts.
      cache: 'no-store',
    },
    `download of ${url}`,
  );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > expectedSize) {
    await response.body?.cancel();
    throw new EdgeloopWebError(
      'CHECKSUM_MISMATCH',
      `artifact is ${declared} bytes, manifest says ${expectedSize}`,
    );
  }
  const out = new Uint8Array(expectedSize);
  let loaded = 0;
  onProgress?.({ loaded, total: expectedSize });
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > expectedSize) {
      throw new EdgeloopWebError(
        'CHECKSUM_MISMATCH',
        `artifact is ${bytes.length} bytes, manifest says ${expectedSize}`,
      );
    }
    onProgress?.({ loaded: bytes.length, total: expectedSize });
    return bytes;
  }
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > expectedSize) {
      await reader.cancel();
      throw new EdgeloopWebError(
        'CHECKSUM_MISMATCH',
        `artifact is larger than the ${expectedSize} bytes the manifest says`,
      );
    }
    out.set(value, loaded);
    loaded += value.length;
    onProgress?.({ loaded, total: expectedSize });
  }
  // A short body is caught by verification (size check) with a precise message.
  return loaded === expectedSize ? out : out.slice(0, loaded);
}
