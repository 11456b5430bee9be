// The models API on a real database: registry, artifact store, a fresh signing key, pipeline jobs
// with brief latency measurements, and the real device classes plus a tiny one for size limits.

import { join } from 'node:path';
import { loadProfiles } from '@edgeloop/firmware-configs';
import type { DeviceProfile } from '@edgeloop/shared';
import type { Db } from '../../db/index.ts';
import { JobRunner, ModelJobs, ModelPipeline } from '../../pipeline/index.ts';
import { FAST_LATENCY } from '../../pipeline/testing.ts';
import { FsArtifactStore, ModelRegistry, SigningKeys } from '../../registry/index.ts';
import type { ModelApiDeps } from '../deps.ts';

/** A device class that accepts almost nothing, to see MODEL_TOO_LARGE. */
export const TINY_CLASS = { id: 'tiny-mcu', preferredVariant: 'int8', maxModelBytes: 1024 } as DeviceProfile;

export async function modelApiDeps(db: Db, dataDir: string) {
  const keys = SigningKeys.generate();
  const store = new FsArtifactStore(join(dataDir, 'artifacts'));
  const registry = new ModelRegistry({ db, store, signer: keys });
  const pipeline = new ModelPipeline({
    registry,
    store,
    latency: FAST_LATENCY,
    quantize: { latency: FAST_LATENCY },
  });
  const runner = new JobRunner({ db, notifyIntervalMs: 0 });
  const profiles = new Map([...(await loadProfiles()), [TINY_CLASS.id, TINY_CLASS]]);
  const models: ModelApiDeps = {
    registry,
    store,
    publicKeys: () => [keys.publicKey],
    jobs: new ModelJobs(pipeline, runner),
    deviceProfiles: async () => profiles,
  };
  return { models, keys, store, registry, runner, profiles };
}

/** Reads a server-sent event stream to its end. */
export async function readEvents(res: Response): Promise<{ event: string; data: string }[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const fields = Object.fromEntries(
        block
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
      );
      return { event: fields.event ?? 'message', data: fields.data ?? '' };
    });
}
