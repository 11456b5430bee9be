// Reconciles the desired state (retained on `desired`) with what the agent runs. A desired state is
// validated (schema, then the manifest signature) before anything else; an invalid one is reported
// as `rejected` and never acted on. A valid one is saved, so a restart resumes it, and applied one at
// a time: download → verify → load with the profile's providers and threads → warm up → golden check
// → stage into the inactive slot → activate → swap. Each phase is reported. Any failure leaves the
// serving model untouched and is reported with its code; a newer desired state for another artifact
// aborts the one in progress.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DesiredState,
  type DeviceProfile,
  desiredStatePayload,
  EdgeloopError,
  type ErrorCode,
  errorCodeSchema,
  type ModelRef,
  topics,
} from '@edgeloop/shared';
import type { AgentTuning } from '../config.ts';
import type { AgentConnection } from '../connection.ts';
import { ArtifactDownload, type DownloadProgress } from '../download/artifact-download.ts';
import type { AgentEventBus } from '../event-bus.ts';
import { runGoldenCheck } from '../golden.ts';
import { ModelSession } from '../inference.ts';
import { type AgentLogger, errorFields } from '../log.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { ModelSlots, SlotContents } from '../slots.ts';
import { type TrustedKey, verifyManifestSignature, verifySignedArtifact } from '../verify.ts';
import { fetchChunks } from './chunk-fetch.ts';
import { type InferenceFeature, modelRef } from './inference.ts';
import type { ReportContext, ReportedPublisher } from './reporter.ts';
import type { UpdateStore } from './update-store.ts';

/** Failures that say the artifact itself is bad: retrying the same generation cannot help. */
export const PERMANENT: ReadonlySet<ErrorCode> = new Set([
  'SIGNATURE_INVALID',
  'SIGNATURE_MISSING',
  'MODEL_INVALID',
  'MODEL_LOAD_FAILED',
  'GOLDEN_CHECK_FAILED',
  'MODEL_TOO_LARGE',
]);

/**
 * Wait before attempt `attempts + 1` of a transiently failing update: `retryDelayMs` for the first
 * `maxUpdateAttempts`, then doubling up to `maxRetryDelayMs`. A fleet behind a broken link or a
 * corrupted cache heals by itself once the cause is gone, without hammering the cloud meanwhile.
 */
export function retryDelay(
  tuning: Pick<AgentTuning, 'retryDelayMs' | 'maxRetryDelayMs' | 'maxUpdateAttempts'>,
  attempts: number,
): number {
  const beyond = attempts - tuning.maxUpdateAttempts;
  if (beyond < 0) return tuning.retryDelayMs;
  return Math.min(tuning.retryDelayMs * 2 ** Math.min(beyond + 1, 30), tuning.maxRetryDelayMs);
}

export interface UpdateFeatureOptions {
  deviceId: string;
  downloadsDir: string;
  profile: DeviceProfile;
  keys: readonly TrustedKey[];
  connection: Pick<AgentConnection, 'connected' | 'publish' | 'subscribe' | 'unsubscribe'>;
  bus: AgentEventBus;
  slots: ModelSlots;
  inference: InferenceFeature;
  reporter: ReportedPublisher;
  store: UpdateStore;
  metrics: AgentMetrics;
  tuning: AgentTuning;
  logger: AgentLogger;
  hooks?: UpdateHooks;
}

/** Points inside an activation, after verification: the session is built, then made durable. */
export type ActivationStep = 'loaded' | 'warmed-up' | 'staged' | 'activated';

export interface UpdateHooks {
  /**
   * Test seam, awaited at each activation step. A hook that holds until `signal` aborts (the agent
   * stopping) and then rejects models a process killed at that point: nothing after it runs.
   */
  activation?: (step: ActivationStep, context: { sha256: string; signal: AbortSignal }) => Promise<void>;
}

type Outcome = 'done' | 'retry' | 'aborted';

class Superseded extends Error {}

export class UpdateFeature {
  #latest: DesiredState | null = null;
  #settled: DesiredState | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #runningFor: DesiredState | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #download: ArtifactDownload | null = null;
  #stopped = false;

  constructor(private readonly o: UpdateFeatureOptions) {}

  /** Download progress of the update in flight, if any. */
  get download(): DownloadProgress | null {
    return this.#download?.progress() ?? null;
  }

  /** Settles when the update in flight (if any) has ended: for tests and orderly shutdown. */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async start(boot: { rolledBack: { code: ErrorCode; sha256: string | null; message: string } | null }) {
    this.#stopped = false;
    const stored = this.o.store.desired;
    const context = stored ? contextOf(stored) : undefined;
    if (boot.rolledBack) {
      const { code, sha256, message } = boot.rolledBack;
      this.o.reporter.report(
        { state: 'rolled_back', ...(sha256 ? { sha256 } : {}), reason: code, message: clip(message) },
        context,
      );
      this.o.metrics.updates.inc({ outcome: 'rolled_back' });
    } else if (context) {
      this.o.reporter.report(this.o.reporter.phase, context);
    }
    this.o.bus.on('connected', this, () => this.o.reporter.publish());
    if (stored) this.#accept(stored);
    await this.o.connection.subscribe(topics.desired(this.o.deviceId), (_topic, payload) =>
      this.#onDesired(payload),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.o.bus.removeListeners(this);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#abort?.abort(new Superseded('agent stopping'));
    await this.o.connection.unsubscribe(topics.desired(this.o.deviceId));
    await this.#running;
  }

  async #onDesired(payload: Buffer): Promise<void> {
    if (payload.length === 0) return; // the retained desired state was cleared
    const decoded = desiredStatePayload.decode(payload);
    if (!decoded.ok) {
      this.#reject(looseGeneration(payload), decoded.error.code, decoded.error.reason);
      return;
    }
    const desired = decoded.value;
    const newest = this.#latest?.generation ?? -1;
    if (desired.generation <= newest) {
      // Equal: the retained message again after a resubscribe. Lower: stale, from an older rollout.
      if (desired.generation < newest)
        this.o.logger.info('update.stale_desired', { generation: desired.generation, newest });
      return;
    }
    if (desired.model) {
      const { manifest, signature } = desired.model;
      try {
        verifyManifestSignature(manifest, signature, this.o.keys);
      } catch (err) {
        const e = asEdgeloopError(err);
        this.#reject(desired.generation, e.code, e.message);
        return;
      }
      if (manifest.size > this.o.profile.maxModelBytes) {
        this.#reject(
          desired.generation,
          'MODEL_TOO_LARGE',
          `artifact of ${manifest.size} bytes exceeds this device class's limit of ${this.o.profile.maxModelBytes}`,
        );
        return;
      }
    }
    await this.o.store.saveDesired(desired);
    this.o.bus.emit('desiredConfig', desired.config);
    this.o.bus.emit('desiredState', desired);
    this.#accept(desired);
  }

  #reject(generation: number | undefined, code: ErrorCode, message: string): void {
    this.o.logger.warn('update.desired_rejected', { generation, code, message });
    this.o.metrics.updates.inc({ outcome: 'rejected' });
    this.o.reporter.report(
      {
        state: 'rejected',
        ...(generation === undefined ? {} : { generation }),
        reason: code,
        message: clip(message),
      },
      {
        generation: generation ?? this.o.reporter.context.generation,
        rolloutId: this.o.reporter.context.rolloutId,
      },
    );
  }

  #accept(desired: DesiredState): void {
    this.#latest = desired;
    if (this.#stopped) return;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#running) {
      // One update at a time; a different artifact makes the current one moot.
      if (shaOf(this.#runningFor) !== shaOf(desired)) this.#abort?.abort(new Superseded('superseded'));
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
  }

  async #loop(): Promise<void> {
    while (!this.#stopped && this.#latest && this.#latest !== this.#settled) {
      const desired = this.#latest;
      this.#runningFor = desired;
      this.#abort = new AbortController();
      const outcome = await this.#reconcile(desired, this.#abort.signal);
      this.#runningFor = null;
      if (outcome === 'aborted') continue;
      this.#settled = desired;
      if (outcome === 'retry' && !this.#stopped && this.#latest === desired) {
        const delay = retryDelay(this.o.tuning, this.o.store.failure?.attempts ?? 1);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          this.#settled = null;
          if (this.#latest) this.#accept(this.#latest);
        }, delay);
      }
    }
  }

  async #reconcile(desired: DesiredState, signal: AbortSignal): Promise<Outcome> {
    const context = contextOf(desired);
    const model = desired.model;
    if (!model) {
      // No model assigned: keep serving what we have (an unassigned camera still classifies).
      this.o.reporter.report({ state: 'idle' }, context);
      return 'done';
    }
    const sha256 = model.manifest.sha256;
    if (this.o.inference.model?.sha256 === sha256) {
      this.o.reporter.report({ state: 'active', sha256 }, context);
      return 'done';
    }
    const rollback = this.o.slots.state.lastRollback;
    if (rollback?.sha256 === sha256 && rollback.at >= desired.issuedAt) {
      // Rolled back after crash-looping: only a desired state issued later may try it again.
      this.o.reporter.report(
        {
          state: 'rolled_back',
          sha256,
          reason: asCode(rollback.reason),
          message: 'model was rolled back on this device',
        },
        context,
      );
      return 'done';
    }
    const failure = this.o.store.failure;
    const earlier = failure?.generation === desired.generation && failure.sha256 === sha256 ? failure : null;
    if (earlier && PERMANENT.has(earlier.code)) {
      this.o.reporter.report(
        { state: 'failed', sha256, reason: earlier.code, message: clip(earlier.message) },
        context,
      );
      return 'done';
    }
    try {
      await this.#install(desired, model, context, signal);
      if (this.o.store.failure) await this.o.store.saveFailure(null);
      return 'done';
    } catch (err) {
      if (signal.aborted) return 'aborted';
      const e = asEdgeloopError(err);
      const attempts = (earlier?.attempts ?? 0) + 1;
      this.o.logger.warn('update.failed', { sha256, attempts, ...errorFields(e) });
      this.o.metrics.updates.inc({ outcome: 'failed' });
      this.o.reporter.report({ state: 'failed', sha256, reason: e.code, message: clip(e.message) }, context);
      await this.o.store
        .saveFailure({ generation: desired.generation, sha256, code: e.code, message: e.message, attempts })
        .catch((saveErr) => this.o.logger.error('update.store_failed', errorFields(saveErr)));
      if (PERMANENT.has(e.code)) await removeDownloads(this.o.downloadsDir, () => true);
      return PERMANENT.has(e.code) ? 'done' : 'retry';
    }
  }

  async #install(
    desired: DesiredState,
    model: NonNullable<DesiredState['model']>,
    context: ReportContext,
    signal: AbortSignal,
  ): Promise<void> {
    const { manifest, signature, delivery } = model;
    const signed = { manifest, signature };
    const sha256 = manifest.sha256;
    const checkpoint = () => {
      if (signal.aborted) throw signal.reason;
    };
    // Partial downloads of superseded desired states only take space now.
    await removeDownloads(this.o.downloadsDir, (name) => !name.startsWith(sha256));
    const staged: SlotContents | null = await this.o.slots.staged(sha256);
    const path = staged?.modelPath ?? (await this.#fetch(desired, model, context, signal));
    checkpoint();

    this.o.reporter.report({ state: 'verifying', sha256 }, context);
    await verifySignedArtifact({ path }, signed, this.o.keys);
    checkpoint();

    this.o.reporter.report({ state: 'activating', sha256 }, context);
    const session = await ModelSession.create(new Uint8Array(await readFile(path)), manifest, this.o.profile);
    const step = async (name: ActivationStep) => this.o.hooks?.activation?.(name, { sha256, signal });
    try {
      await step('loaded');
      await session.warmUp();
      if (manifest.golden) await runGoldenCheck(session, manifest.golden);
      await step('warmed-up');
      checkpoint();
      const slot = staged?.slot ?? (await this.o.slots.stage(path, signed));
      await step('staged');
      await this.o.slots.activate(slot);
      await step('activated');
    } catch (err) {
      await session.dispose();
      throw err;
    }
    const ref: ModelRef = modelRef(manifest);
    const previous = this.o.inference.model;
    await this.o.inference.swap({ session, ref });
    // Listeners (the controller's `previous`, health) update first, so the report below is current.
    this.o.bus.emit('modelServing', { model: ref, previous, reason: 'activated' });
    this.o.reporter.report({ state: 'active', sha256 }, context);
    this.o.metrics.updates.inc({ outcome: 'active' });
    this.o.logger.info('update.active', {
      ...ref,
      generation: desired.generation,
      chunkSize: delivery.chunkSize,
    });
  }

  /** Downloads (or resumes) the artifact and returns the path of the checksum-verified file. */
  async #fetch(
    _desired: DesiredState,
    model: NonNullable<DesiredState['model']>,
    context: ReportContext,
    signal: AbortSignal,
  ): Promise<string> {
    const { manifest, delivery } = model;
    const sha256 = manifest.sha256;
    const report = (p: DownloadProgress) =>
      this.o.reporter.report(
        { state: 'downloading', sha256, receivedChunks: p.receivedChunks, totalChunks: p.totalChunks },
        context,
      );
    const download = new ArtifactDownload({
      dir: this.o.downloadsDir,
      sha256,
      size: manifest.size,
      chunkSize: delivery.chunkSize,
    });
    this.#download = download;
    try {
      const progress = await download.start();
      report(progress);
      if (!progress.complete) {
        const stats = await fetchChunks({
          deviceId: this.o.deviceId,
          download,
          sha256,
          chunkSize: delivery.chunkSize,
          connection: this.o.connection,
          bus: this.o.bus,
          signal,
          quietMs: this.o.tuning.chunkQuietMs,
          maxQuietRetries: this.o.tuning.maxQuietRetries,
          windowChunks: this.o.tuning.requestWindowChunks,
          onProgress: report,
          logger: this.o.logger,
        });
        this.o.logger.info('download.complete', {
          sha256,
          resumedAt: progress.receivedChunks,
          ...stats,
          ...download.counters,
        });
      }
      return await download.finish();
    } finally {
      await download.stop();
      this.#download = null;
    }
  }
}

function contextOf(desired: DesiredState): ReportContext {
  return { generation: desired.generation, rolloutId: desired.rolloutId };
}

function shaOf(desired: DesiredState | null): string | null {
  return desired?.model?.manifest.sha256 ?? null;
}

function clip(message: string): string {
  return message.length > 500 ? `${message.slice(0, 497)}...` : message;
}

function asEdgeloopError(err: unknown): EdgeloopError {
  if (err instanceof EdgeloopError) return err;
  return new EdgeloopError('INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
}

function asCode(reason: string): ErrorCode {
  const parsed = errorCodeSchema.safeParse(reason);
  return parsed.success ? parsed.data : 'CRASH_LOOP';
}

/** The generation of a desired state that failed validation, when its JSON still says one. */
function looseGeneration(payload: Buffer): number | undefined {
  try {
    const generation = (JSON.parse(payload.toString('utf8')) as { generation?: unknown }).generation;
    return Number.isSafeInteger(generation) && (generation as number) >= 0
      ? (generation as number)
      : undefined;
  } catch {
    return undefined;
  }
}

async function removeDownloads(dir: string, match: (name: string) => boolean): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter(match).map((name) => rm(join(dir, name), { force: true })));
}
