// Brings a shadow model onto the device exactly as an update brings the main model, minus the slots:
// the manifest signature first (nothing is downloaded for a forged one), the size limit, then the
// chunks over MQTT (resumable, into the shadow folder), sha256 + signature of the assembled file,
// onnxruntime load with the profile's providers, warm-up and the golden check.
import { readFile } from 'node:fs/promises';
import { type DeliveredModel, type DeviceProfile, EdgeloopError } from '@edgeloop/shared';
import type { AgentTuning } from '../../config.ts';
import type { AgentConnection } from '../../connection.ts';
import { ArtifactDownload } from '../../download/artifact-download.ts';
import type { AgentEventBus } from '../../event-bus.ts';
import { runGoldenCheck } from '../../golden.ts';
import { ModelSession } from '../../inference.ts';
import type { AgentLogger } from '../../log.ts';
import { type TrustedKey, verifyManifestSignature, verifySignedArtifact } from '../../verify.ts';
import { fetchChunks } from '../chunk-fetch.ts';

export interface ShadowArtifactOptions {
  deviceId: string;
  /** The shadow folder: partial and verified artifacts live here, apart from the update's downloads. */
  dir: string;
  profile: DeviceProfile;
  keys: readonly TrustedKey[];
  connection: Pick<AgentConnection, 'connected' | 'publish' | 'subscribe' | 'unsubscribe'>;
  bus: AgentEventBus;
  tuning: Pick<AgentTuning, 'chunkQuietMs' | 'maxQuietRetries' | 'requestWindowChunks'>;
  logger: AgentLogger;
  signal: AbortSignal;
}

/** The loaded, checked shadow session and the path of its verified artifact. */
export async function loadShadowModel(
  model: DeliveredModel,
  o: ShadowArtifactOptions,
): Promise<{ session: ModelSession; path: string }> {
  const { manifest, signature, delivery } = model;
  const checkpoint = () => {
    if (o.signal.aborted) throw o.signal.reason;
  };
  verifyManifestSignature(manifest, signature, o.keys);
  if (manifest.size > o.profile.maxModelBytes) {
    throw new EdgeloopError(
      'MODEL_TOO_LARGE',
      `shadow artifact of ${manifest.size} bytes exceeds this device class's limit of ${o.profile.maxModelBytes}`,
    );
  }
  const download = new ArtifactDownload({
    dir: o.dir,
    sha256: manifest.sha256,
    size: manifest.size,
    chunkSize: delivery.chunkSize,
  });
  let path: string;
  try {
    const progress = await download.start();
    if (!progress.complete) {
      const stats = await fetchChunks({
        deviceId: o.deviceId,
        download,
        sha256: manifest.sha256,
        chunkSize: delivery.chunkSize,
        connection: o.connection,
        bus: o.bus,
        signal: o.signal,
        quietMs: o.tuning.chunkQuietMs,
        maxQuietRetries: o.tuning.maxQuietRetries,
        windowChunks: o.tuning.requestWindowChunks,
        logger: o.logger,
      });
      o.logger.info('shadow.download_complete', { sha256: manifest.sha256, ...stats });
    }
    path = await download.finish();
  } finally {
    await download.stop();
  }
  checkpoint();
  await verifySignedArtifact({ path }, { manifest, signature }, o.keys);
  checkpoint();
  const session = await ModelSession.create(new Uint8Array(await readFile(path)), manifest, o.profile);
  try {
    await session.warmUp();
    if (manifest.golden) await runGoldenCheck(session, manifest.golden);
    checkpoint();
  } catch (err) {
    await session.dispose();
    throw err;
  }
  return { session, path };
}
