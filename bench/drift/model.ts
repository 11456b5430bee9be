// The model the drift benchmark watches: the default digits CNN trained and registered by the real
// pipeline (in-memory PGlite, artifacts in a temp dir), so its reference profile and sketch spec are
// exactly what the registry gives devices.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createSession,
  type Dataset,
  detachedContext,
  loadMnistDataset,
  ModelPipeline,
  openDatabase,
  openModelRegistry,
} from '@edgeloop/cloud';
import { type ModelManifest, type ReferenceProfile, referenceProfileSchema } from '@edgeloop/shared';

export interface WatchedModel {
  manifest: ModelManifest;
  profile: ReferenceProfile;
  session: Awaited<ReturnType<typeof createSession>>;
  dataset: Dataset;
  trainSeconds: number;
  close(): Promise<void>;
}

export async function trainWatchedModel(epochs: number, say: (line: string) => void): Promise<WatchedModel> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-drift-'));
  const database = await openDatabase({ inMemory: true });
  await database.migrate();
  const { registry, store } = await openModelRegistry({ db: database.db, dataDir: dir });
  const pipeline = new ModelPipeline({ registry, store });
  const started = performance.now();
  let lastSaid = '';
  const outcome = await pipeline.train(
    { model: 'digits', dataset: { kind: 'mnist' }, hyperparameters: { epochs }, actor: 'bench' },
    {
      ...detachedContext(),
      progress: (update) => {
        const line = `  ${update.phase} ${Math.floor(update.fraction * 10) * 10}%`;
        if (line !== lastSaid) say(line);
        lastSaid = line;
      },
    },
  );
  const trainSeconds = (performance.now() - started) / 1000;
  const version = await registry.getVersion('digits', outcome.version);
  const fp32 = version.variants.find((v) => v.variant === 'fp32');
  if (!fp32) throw new Error('the pipeline registered no fp32 variant');
  const profile = referenceProfileSchema.parse(version.referenceProfile);
  const session = await createSession(await store.get(fp32.sha256));
  return {
    manifest: fp32.manifest,
    profile,
    session,
    dataset: loadMnistDataset(),
    trainSeconds,
    close: async () => {
      await session.release();
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
