// Manifest session options → onnxruntime-web session options. Kept apart from runtime.ts (which
// loads onnxruntime-web) so it stays a pure function with a unit test.
import type { ModelManifest } from '@edgeloop/shared';

/** Nested config entries as onnxruntime's `extra` wants them; it joins the path back with dots. */
export type ExtraOptions = { [key: string]: string | ExtraOptions };

/**
 * `{ 'session.disable_quant_qdq': '1' }` → `{ session: { disable_quant_qdq: '1' } }`.
 *
 * @example
 * configEntriesToExtra(manifest.sessionOptions);
 */
export function configEntriesToExtra(entries: ModelManifest['sessionOptions']): ExtraOptions {
  const extra: ExtraOptions = {};
  for (const [key, value] of Object.entries(entries)) {
    const path = key.split('.');
    const leaf = path.pop() ?? key;
    let node = extra;
    for (const part of path) {
      const next = node[part];
      if (typeof next === 'string')
        throw new RangeError(`session option ${key} collides with ${path.join('.')}`);
      if (next === undefined) {
        const child: ExtraOptions = {};
        node[part] = child;
        node = child;
      } else node = next;
    }
    node[leaf] = value;
  }
  return extra;
}

/**
 * Intra-op threads for onnxruntime-web: several only when the page is cross-origin isolated
 * (SharedArrayBuffer exists only then), capped at 4 — more does not help small vision models and
 * starves the page's own work on phones.
 *
 * @example
 * defaultThreadCount(globalThis.crossOriginIsolated, navigator.hardwareConcurrency); // 1 without COOP/COEP
 */
export function defaultThreadCount(isolated: boolean, hardwareConcurrency: number | undefined): number {
  if (!isolated) return 1;
  return Math.max(1, Math.min(4, hardwareConcurrency ?? 1));
}
