// Shadow mode (issue E): the desired state may name a shadow model that the device fetches, verifies
// and loads beside the active one — in its own folder and onnxruntime session, never in the A/B
// slots — and runs on a share of its frames without acting on the output (see ShadowRunner). The
// shadow never becomes active by itself: promotion is an ordinary desired state naming it as the
// model, and then the verified file is handed to the update so it is not downloaded twice.
//
// Whatever goes wrong with the shadow (fetch timeout, forged signature, a model that does not load,
// the shadow being the active model) is reported in `reported.shadow`; the active model keeps serving.
import { linkSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DesiredState,
  type DeviceProfile,
  EdgeloopError,
  type ModelRef,
  type ShadowStatus,
} from '@edgeloop/shared';
import type { AgentTuning } from '../../config.ts';
import type { AgentConnection } from '../../connection.ts';
import type { AgentEventBus } from '../../event-bus.ts';
import { type AgentLogger, errorFields } from '../../log.ts';
import type { AgentMetrics } from '../../metrics.ts';
import type { TrustedKey } from '../../verify.ts';
import { modelRef } from '../inference.ts';
import { PERMANENT } from '../update.ts';
import { loadShadowModel } from './shadow-artifact.ts';
import { ShadowRunner } from './shadow-runner.ts';

export interface ShadowFeatureOptions {
  deviceId: string;
  /** `<dataDir>/shadow`: the shadow's partial and verified artifacts. */
  dir: string;
  /** The update's download folder, where a promoted shadow's verified file is handed over. */
  downloadsDir: string;
  profile: DeviceProfile;
  keys: readonly TrustedKey[];
  connection: Pick<AgentConnection, 'connected' | 'publish' | 'subscribe' | 'unsubscribe'>;
  bus: AgentEventBus;
  metrics: AgentMetrics;
  tuning: AgentTuning;
  logger: AgentLogger;
  /** The model the device serves now. */
  activeModel: () => ModelRef | null;
  /** Called when `status` changes (the controller publishes the reported state). */
  onStatus: () => void;
  /** Source of randomness for frame sampling (tests). */
  random?: () => number;
}

export class ShadowFeature {
  readonly #runner: ShadowRunner;
  #status: ShadowStatus | undefined;
  /** The verified artifact of the loaded shadow. */
  #verified: { sha256: string; path: string } | null = null;
  #latest: DesiredState | null = null;
  #settled: DesiredState | null = null;
  #runningFor: DesiredState | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #stopped = false;

  constructor(private readonly o: ShadowFeatureOptions) {
    this.#runner = new ShadowRunner({
      bus: o.bus,
      metrics: o.metrics,
      logger: o.logger,
      maxImageBytes: o.tuning.maxImageBytes,
      ...(o.random ? { random: o.random } : {}),
    });
  }

  /** What `reported.shadow` says; undefined while the desired state names no shadow. */
  get status(): ShadowStatus | undefined {
    return this.#status;
  }

  /** The loaded shadow model, if any. */
  get model(): ModelRef | null {
    return this.#runner.model;
  }

  /** Settles when the shadow has been reconciled and no shadow run is in flight (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
    await this.#runner.idle();
  }

  /** `stored`: the desired state saved before a restart (a partial shadow download resumes). */
  async start(stored: DesiredState | null): Promise<void> {
    this.#stopped = false;
    await mkdir(this.o.dir, { recursive: true });
    this.#runner.start();
    this.o.bus.on('desiredState', this, (desired) => this.#onDesired(desired));
    if (stored) this.#onDesired(stored);
    else await this.#removeFiles(null);
  }

  /** Unloads the shadow but keeps its files, so a restart resumes or reuses them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.o.bus.removeListeners(this);
    this.#abort?.abort(new EdgeloopError('UNAVAILABLE', 'agent stopping'));
    await this.#running;
    await this.#runner.stop();
  }

  #onDesired(desired: DesiredState): void {
    this.#handOver(desired);
    this.#latest = desired;
    if (this.#stopped) return;
    if (this.#running) {
      // One reconcile at a time; a different shadow (or none) makes the one in progress moot.
      if (shadowSha(this.#runningFor) !== shadowSha(desired)) {
        this.#abort?.abort(new EdgeloopError('CONFLICT', 'superseded'));
      }
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
  }

  /**
   * Promotion: the new desired model is the shadow we hold verified. A hard link under the name the
   * update's download looks for makes the update find a complete artifact and skip the download (it
   * still verifies it). Synchronous, so it happens before the update acts on the same event.
   */
  #handOver(desired: DesiredState): void {
    const sha256 = desired.model?.manifest.sha256;
    if (!sha256 || this.#verified?.sha256 !== sha256) return;
    try {
      linkSync(this.#verified.path, join(this.o.downloadsDir, `${sha256}.artifact`));
      this.o.logger.info('shadow.handed_over', { sha256 });
    } catch (err) {
      // EEXIST: already there. Anything else only costs a download.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        this.o.logger.warn('shadow.hand_over_failed', { sha256, ...errorFields(err) });
      }
    }
  }

  async #loop(): Promise<void> {
    while (!this.#stopped && this.#latest && this.#latest !== this.#settled) {
      const desired = this.#latest;
      this.#runningFor = desired;
      this.#abort = new AbortController();
      try {
        await this.#reconcile(desired, this.#abort.signal);
      } catch (err) {
        this.o.logger.error('shadow.reconcile_failed', errorFields(err));
      }
      this.#runningFor = null;
      this.#settled = desired;
    }
  }

  async #reconcile(desired: DesiredState, signal: AbortSignal): Promise<void> {
    const wanted = desired.shadow;
    if (!wanted) {
      if (this.#runner.model || this.#status) this.o.logger.info('shadow.removed');
      await this.#unload(null);
      this.#setStatus(undefined);
      return;
    }
    const { manifest } = wanted.model;
    const sha256 = manifest.sha256;
    if (sha256 === desired.model?.manifest.sha256 || sha256 === this.o.activeModel()?.sha256) {
      await this.#unload(null);
      this.#setStatus({
        sha256,
        state: 'failed',
        reason: 'CONFLICT',
        message: 'the shadow model is the active model: nothing to compare',
      });
      return;
    }
    if (this.#runner.model?.sha256 === sha256) {
      this.#runner.setRate(wanted.rate);
      this.#setStatus({ sha256, state: 'ready' });
      return;
    }
    await this.#unload(sha256);
    for (let attempt = 1; ; attempt++) {
      this.#setStatus({ sha256, state: 'fetching' });
      try {
        const { session, path } = await loadShadowModel(wanted.model, {
          deviceId: this.o.deviceId,
          dir: this.o.dir,
          profile: this.o.profile,
          keys: this.o.keys,
          connection: this.o.connection,
          bus: this.o.bus,
          tuning: this.o.tuning,
          logger: this.o.logger,
          signal,
        });
        const ref = modelRef(manifest);
        await this.#runner.install({ session, ref, rate: wanted.rate });
        this.#verified = { sha256, path };
        this.#setStatus({ sha256, state: 'ready' });
        this.o.logger.info('shadow.ready', { ...ref, rate: wanted.rate, attempt });
        return;
      } catch (err) {
        if (signal.aborted) return;
        const e =
          err instanceof EdgeloopError ? err : new EdgeloopError('INTERNAL', String(err), { cause: err });
        const final = PERMANENT.has(e.code) || attempt >= this.o.tuning.maxUpdateAttempts;
        this.o.logger.warn('shadow.failed', { sha256, attempt, final, ...errorFields(e) });
        this.#setStatus({ sha256, state: 'failed', reason: e.code, message: clip(e.message) });
        if (PERMANENT.has(e.code)) await this.#removeFiles(null);
        if (final) return;
        try {
          await sleep(this.o.tuning.retryDelayMs, undefined, { signal });
        } catch {
          return; // superseded or stopping
        }
      }
    }
  }

  /** Unloads the shadow and deletes every shadow file except those of `keep` (a resumable download). */
  async #unload(keep: string | null): Promise<void> {
    await this.#runner.install(null);
    this.#verified = null;
    await this.#removeFiles(keep);
  }

  async #removeFiles(keep: string | null): Promise<void> {
    const names = await readdir(this.o.dir).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => keep === null || !name.startsWith(keep))
        .map((name) => rm(join(this.o.dir, name), { recursive: true, force: true })),
    );
  }

  #setStatus(status: ShadowStatus | undefined): void {
    if (JSON.stringify(status) === JSON.stringify(this.#status)) return;
    this.#status = status;
    this.o.onStatus();
  }
}

function shadowSha(desired: DesiredState | null): string | null {
  return desired?.shadow?.model.manifest.sha256 ?? null;
}

function clip(message: string): string {
  return message.length > 500 ? `${message.slice(0, 497)}...` : message;
}
