// The agent controller: resolves the profile and the trusted keys, restores the active model slot
// (rolling back a crash-looping or unloadable model), then starts the features — inference, health,
// telemetry, update — the MQTT connection and the local HTTP API. Features talk through the event
// bus; this file only wires them and stops them in reverse order.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveProfile } from '@edgeloop/firmware-configs';
import {
  type DeviceProfile,
  EdgeloopError,
  type ModelRef,
  ProfileError,
  type ShadowStatus,
  type TelemetryWindow,
  type UpdatePhase,
} from '@edgeloop/shared';
import { type AgentConfig, type AgentConfigInput, parseAgentConfig } from './config.ts';
import { AgentConnection, newBootId } from './connection.ts';
import type { DownloadProgress } from './download/artifact-download.ts';
import { AgentEventBus } from './event-bus.ts';
import { HealthFeature } from './features/health.ts';
import {
  InferenceFeature,
  type InferenceOptions,
  type InferenceResult,
  modelRef,
  type ServingModel,
} from './features/inference.ts';
import { ReportedPublisher } from './features/reporter.ts';
import { type SampleStats, SamplesFeature } from './features/samples/samples.ts';
import { ShadowFeature } from './features/shadow/shadow.ts';
import { TelemetryFeature } from './features/telemetry.ts';
import { UpdateFeature, type UpdateHooks } from './features/update.ts';
import { UpdateStore } from './features/update-store.ts';
import { ModelSession } from './inference.ts';
import { createLocalApi, serveLocalApi } from './local-api.ts';
import { type AgentLogger, errorFields, silentLogger } from './log.ts';
import { AgentMetrics } from './metrics.ts';
import type { ImageInput } from './preprocess.ts';
import { type BootDecision, ModelSlots, type SlotContents } from './slots.ts';
import type { TelemetryQueueStats } from './telemetry-queue.ts';
import { resolveTrustedKeys } from './trusted-keys.ts';
import { type TrustedKey, verifySignedArtifact } from './verify.ts';

export interface AgentDependencies {
  logger?: AgentLogger;
  /** For the key fetch at first start. */
  fetch?: typeof fetch;
  /** An already-resolved profile (the simulator shares one among many agents). */
  profile?: DeviceProfile;
  /** Test seams of the update feature (fault tests: an agent killed mid-activation). */
  updateHooks?: UpdateHooks;
}

export interface AgentStatus {
  deviceId: string;
  bootId: string;
  connected: boolean;
  model: ModelRef | null;
  previous: ModelRef | null;
  phase: UpdatePhase;
  generation: number;
  download: DownloadProgress | null;
  telemetry: TelemetryQueueStats & { sent: number };
  /** Retraining samples (all zero when the profile does not enable sampling). */
  samples: SampleStats;
  /** Shadow mode's status (null: the desired state names no shadow model). */
  shadow: ShadowStatus | null;
}

export interface AgentHandle {
  readonly deviceId: string;
  readonly bootId: string;
  /** Base URL of the local HTTP API. */
  readonly localUrl: string;
  readonly events: AgentEventBus;
  status(): AgentStatus;
  /**
   * Classifies one image in this process, exactly as `POST /infer` does (same preprocessing, metrics
   * and telemetry) but without HTTP: the fleet simulator feeds thousands of frames a second this way.
   */
  infer(image: ImageInput, topK?: number, options?: InferenceOptions): Promise<InferenceResult>;
  /** Ends the current telemetry window now (the simulator and tests; the timer does it otherwise). */
  flushTelemetry(): Promise<TelemetryWindow | null>;
  /** Settles when the update in flight, if any, has ended. */
  updateIdle(): Promise<void>;
  /** Settles when the shadow model is reconciled and no shadow run is in flight (tests). */
  shadowIdle(): Promise<void>;
  /** `graceful: false` behaves like a crash: no offline status, no flush (the last will speaks). */
  stop(options?: { graceful?: boolean }): Promise<void>;
}

/**
 * Starts an edge agent and resolves once it serves its local API. It does not wait for the broker:
 * the agent infers with its last good model whether or not the cloud is reachable.
 *
 * @example
 * const agent = await startAgent({ deviceId: 'cam-1', token, brokerUrl: 'mqtt://localhost:1883',
 *   profile: 'raspberry-pi-4', dataDir: '/var/lib/edgeloop', trustedKeys: [publicKeyBase64] });
 * await fetch(`${agent.localUrl}/infer`, { method: 'POST', body: jpegBytes });
 */
export async function startAgent(
  input: AgentConfig | AgentConfigInput,
  deps: AgentDependencies = {},
): Promise<AgentHandle> {
  const config = parseAgentConfig(input);
  const { tuning } = config;
  const bootId = newBootId();
  const logger = deps.logger ?? silentLogger;
  const profile = deps.profile ?? (await loadProfile(config.profile));
  const dirs = {
    models: join(config.dataDir, 'models'),
    downloads: join(config.dataDir, 'downloads'),
    telemetry: join(config.dataDir, 'telemetry'),
    shadow: join(config.dataDir, 'shadow'),
  };
  for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
  const { keys, source } = await resolveTrustedKeys(
    {
      trustedKeys: config.trustedKeys,
      cloudUrl: config.cloudUrl,
      dataDir: config.dataDir,
      fetchTimeoutMs: tuning.keysFetchTimeoutMs,
    },
    deps.fetch,
  );
  logger.info('agent.starting', { bootId, profile: profile.id, keys: source });

  const bus = new AgentEventBus();
  bus.onListenerError = (err, event) => logger.error('agent.listener_failed', { event, ...errorFields(err) });
  const metrics = new AgentMetrics({ deviceId: config.deviceId });
  const slots = new ModelSlots(dirs.models, { maxBootAttempts: tuning.maxBootAttempts });
  const inference = new InferenceFeature(bus, metrics, { maxImageBytes: tuning.maxImageBytes });
  const restored = await restoreActiveModel(slots, profile, keys, logger);
  let previous = restored.decision.previous ? modelRef(restored.decision.previous.signed.manifest) : null;
  await inference.swap(restored.serving);
  bus.on('modelServing', bus, (event) => {
    previous = event.previous;
  });

  const connection = new AgentConnection(
    {
      url: config.brokerUrl,
      deviceId: config.deviceId,
      password: config.token,
      agentVersion: config.agentVersion,
      profileId: profile.id,
      bootId,
      keepaliveSeconds: tuning.keepaliveSeconds,
      sessionExpirySeconds: tuning.sessionExpirySeconds,
      protocol: tuning.mqttProtocol,
      backoff: tuning.reconnect,
      connectTimeoutMs: tuning.connectTimeoutMs,
      logger,
    },
    bus,
  );
  bus.on('connected', metrics, () => metrics.mqttConnected.set(1));
  bus.on('disconnected', metrics, () => metrics.mqttConnected.set(0));

  const reporter = new ReportedPublisher({
    deviceId: config.deviceId,
    connection,
    models: () => ({ active: inference.model, previous }),
    shadow: () => shadow.status,
    progressIntervalMs: tuning.progressIntervalMs,
    logger,
  });
  const store = new UpdateStore(join(config.dataDir, 'update-state.json'));
  await store.load();
  const health = new HealthFeature({
    bus,
    slots,
    confirmMs: tuning.healthConfirmMs,
    confirmInferences: tuning.healthConfirmInferences,
    logger,
  });
  const telemetry = new TelemetryFeature({
    deviceId: config.deviceId,
    dir: dirs.telemetry,
    windowMs:
      tuning.telemetryWindowMs ??
      (store.desired?.config.telemetryWindowSeconds ?? profile.telemetry.windowSeconds) * 1000,
    windowFixed: tuning.telemetryWindowMs !== undefined,
    queueMaxBytes: profile.telemetry.queueMaxBytes,
    connection,
    bus,
    model: () => ({ ref: inference.model, classCount: inference.classCount }),
    metrics,
    logger,
  });
  const update = new UpdateFeature({
    deviceId: config.deviceId,
    downloadsDir: dirs.downloads,
    profile,
    keys,
    connection,
    bus,
    slots,
    inference,
    reporter,
    store,
    metrics,
    tuning,
    logger,
    ...(deps.updateHooks ? { hooks: deps.updateHooks } : {}),
  });
  const samples = new SamplesFeature({
    deviceId: config.deviceId,
    settings: profile.sampling,
    rateOverride: store.desired?.config.samplingRate,
    connection,
    bus,
    registry: metrics.registry,
    windowSeq: () => telemetry.windowSeq,
    flushMs: tuning.samplesFlushMs,
    queueMaxSamples: tuning.samplesQueueMax,
    logger,
  });

  const shadow = new ShadowFeature({
    deviceId: config.deviceId,
    dir: dirs.shadow,
    downloadsDir: dirs.downloads,
    profile,
    keys,
    connection,
    bus,
    metrics,
    tuning,
    logger,
    activeModel: () => inference.model,
    onStatus: () => reporter.publish(),
  });

  const app = createLocalApi({
    inference,
    metrics,
    maxImageBytes: tuning.maxImageBytes,
    health: () => ({ connected: connection.connected, phase: reporter.phase.state, bootId }),
  });
  const api = await serveLocalApi(app, config.api.host, config.api.port);

  inference.start();
  health.start(inference.model);
  await telemetry.start();
  samples.start();
  await shadow.start(store.desired);
  await update.start({ rolledBack: restored.decision.rolledBack });
  connection.start();
  logger.info('agent.started', { localUrl: api.url, model: inference.model });

  let stopping: Promise<void> | null = null;
  return {
    deviceId: config.deviceId,
    bootId,
    localUrl: api.url,
    events: bus,
    status: () => ({
      deviceId: config.deviceId,
      bootId,
      connected: connection.connected,
      model: inference.model,
      previous,
      phase: reporter.phase,
      generation: reporter.context.generation,
      download: update.download,
      telemetry: { ...telemetry.queueStats, sent: telemetry.sent },
      samples: samples.stats,
      shadow: shadow.status ?? null,
    }),
    infer: (image, topK, options) => inference.classify(image, topK, options),
    flushTelemetry: () => telemetry.closeWindow(),
    updateIdle: () => update.idle(),
    shadowIdle: () => shadow.idle(),
    stop(options = {}) {
      stopping ??= (async () => {
        const graceful = options.graceful ?? true;
        await api.close();
        await update.stop();
        await shadow.stop();
        health.stop();
        samples.stop({ graceful });
        if (graceful) await telemetry.stop();
        else telemetry.abandon();
        await connection.stop({ graceful });
        await telemetry.drained();
        await samples.drained();
        await inference.stop();
        bus.removeListeners(bus);
        bus.removeListeners(metrics);
        logger.info('agent.stopped', { graceful });
      })();
      return stopping;
    },
  };
}

async function loadProfile(pathOrId: string): Promise<DeviceProfile> {
  try {
    return await resolveProfile(pathOrId);
  } catch (err) {
    if (err instanceof ProfileError) {
      throw new EdgeloopError('VALIDATION_FAILED', `profile (--profile): ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Loads the model the slots say is active. A model that no longer loads (or whose file no longer
 * matches its manifest) is rolled back to the previous slot at once, rather than leaving the device
 * with nothing to serve.
 */
async function restoreActiveModel(
  slots: ModelSlots,
  profile: DeviceProfile,
  keys: readonly TrustedKey[],
  logger: AgentLogger,
): Promise<{ decision: BootDecision; serving: ServingModel | null }> {
  let decision = await slots.start();
  if (decision.rolledBack) logger.warn('agent.boot_rollback', { ...decision.rolledBack });
  for (let attempt = 0; attempt < 2 && decision.active; attempt++) {
    try {
      return { decision, serving: await loadSlot(decision.active, profile, keys) };
    } catch (err) {
      logger.error('agent.boot_model_failed', { slot: decision.active.slot, ...errorFields(err) });
      if (!slots.state.previous) break;
      const code = err instanceof EdgeloopError ? err.code : 'MODEL_LOAD_FAILED';
      decision = await slots.rollback(code, (err as Error).message);
    }
  }
  return { decision, serving: null };
}

async function loadSlot(
  slot: SlotContents,
  profile: DeviceProfile,
  keys: readonly TrustedKey[],
): Promise<ServingModel> {
  // The slot was verified before it was staged; checking again catches a disk that rotted since.
  await verifySignedArtifact({ path: slot.modelPath }, slot.signed, keys);
  const session = await ModelSession.create(
    new Uint8Array(await readFile(slot.modelPath)),
    slot.signed.manifest,
    profile,
  );
  try {
    await session.warmUp();
  } catch (err) {
    await session.dispose();
    throw err;
  }
  return { session, ref: modelRef(slot.signed.manifest) };
}
