// Which devices may download which artifacts. Chunks are signed and content-addressed, so reading
// one grants nothing; the check exists so the cloud spends its bandwidth only on artifacts it means
// to ship (a device cannot make the cloud publish arbitrary blobs from the store).
import { eq } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { modelVariants } from '../db/schema.ts';

/** May `deviceId` download artifact `sha256`? Called once per accepted request. */
export type EntitlementCheck = (deviceId: string, sha256: string) => boolean | Promise<boolean>;

/** Every artifact in the store, to any device: for tests and single-tenant demos. */
export const everyStoredArtifact: EntitlementCheck = () => true;

/**
 * The default: an artifact that is a variant of a registered model version, to any device. A blob
 * left in the store by a failed registration is not served. Positive answers are cached for
 * `ttlMs`, since a registered variant stays registered and every chunk window would otherwise cost a
 * query.
 */
export function registeredArtifacts(
  db: Db,
  options: { ttlMs?: number; now?: () => number } = {},
): EntitlementCheck {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const registeredAt = new Map<string, number>();
  return async (_deviceId, sha256) => {
    const at = registeredAt.get(sha256);
    if (at !== undefined && now() - at < ttlMs) return true;
    const rows = await db
      .select({ sha256: modelVariants.sha256 })
      .from(modelVariants)
      .where(eq(modelVariants.sha256, sha256))
      .limit(1);
    if (rows.length === 0) return false;
    if (registeredAt.size >= 4096) registeredAt.clear(); // a handful of live artifacts in practice
    registeredAt.set(sha256, now());
    return true;
  };
}
