import { utf8Encode } from './encoding.ts';
import { canonicalJson, type ModelManifest } from './manifest.ts';

/** Domain separation: a signature over a manifest can never be replayed as a signature over anything else. */
export const MANIFEST_SIGNATURE_CONTEXT = 'edgeloop.manifest.v1\n';

/** The exact bytes an Ed25519 signature covers for a manifest. */
export function manifestSigningBytes(manifest: ModelManifest): Uint8Array {
  return utf8Encode(MANIFEST_SIGNATURE_CONTEXT + canonicalJson(manifest));
}
