// The default wiring of the registry for a cloud process: artifacts on disk and the Ed25519 key,
// both in the cloud's data directory.
import { join } from 'node:path';
import type { DatabaseLog, Db } from '../db/database.ts';
import { FsArtifactStore } from './artifact-store.ts';
import { ModelRegistry } from './model-registry.ts';
import type { ArtifactCheck } from './registration.ts';
import { SigningKeys } from './signing-keys.ts';

export interface OpenedModelRegistry {
  registry: ModelRegistry;
  store: FsArtifactStore;
  /** Serve `keys.publicKey` from the API; devices pin it. */
  keys: SigningKeys;
}

/**
 * Opens the registry over `db` with artifacts in `<dataDir>/artifacts` and the signing key in
 * `<dataDir>/keys/ed25519.pem` (generated on first start).
 *
 * @example
 * const database = await openDatabase({ url: process.env.DATABASE_URL, dataDir: join(dataDir, 'db') });
 * await database.migrate();
 * const { registry, keys } = await openModelRegistry({ db: database.db, dataDir });
 */
export async function openModelRegistry(options: {
  db: Db;
  dataDir: string;
  log?: DatabaseLog;
  checkArtifact?: ArtifactCheck;
}): Promise<OpenedModelRegistry> {
  const keys = await SigningKeys.loadOrCreate(options.dataDir, options.log);
  const store = new FsArtifactStore(join(options.dataDir, 'artifacts'));
  const registry = new ModelRegistry({
    db: options.db,
    store,
    signer: keys,
    ...(options.checkArtifact === undefined ? {} : { checkArtifact: options.checkArtifact }),
  });
  return { registry, store, keys };
}
