// Composes and starts the whole cloud: config → logger → database → identity → broker (embedded
// unless MQTT_URL) → the cloud's MQTT connection → HTTP API; and stops it in the reverse order.
// Signals are not handled here (a library must not take over the process): `edgeloop cloud start`
// wires SIGINT/SIGTERM to `close()`.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { loadProfiles } from '@edgeloop/firmware-configs';
import type { DeviceProfile } from '@edgeloop/shared';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { AlertEvaluator, type AlertEvaluatorOptions, alertMetrics } from './alerts/index.ts';
import { createApiApp } from './api/app.ts';
import { AppKeyStore, quickStartDemoKey } from './api/app-keys/index.ts';
import { ApiTokenStore } from './api/auth/token-store.ts';
import type { ApiDeps } from './api/deps.ts';
import { quickStartAdminToken } from './cloud/admin-token.ts';
import { startHttpServer } from './cloud/http-server.ts';
import { retryUntilReady } from './cloud/retry.ts';
import type { CloudConfig } from './config/index.ts';
import { DASHBOARD_PATH, dashboardRoutes } from './dashboard/index.ts';
import { sessionAdvisoryLock } from './db/advisory-lock.ts';
import { openDatabase } from './db/index.ts';
import { ArtifactServer } from './delivery/index.ts';
import { DriftMonitor, type DriftMonitorOptions } from './drift/index.ts';
import { CLOUD_USERNAME, DeviceRegistry, firmwareDeviceClasses } from './identity/index.ts';
import { startTelemetryIngestion } from './ingest/index.ts';
import { createLogger, type Logger } from './log/index.ts';
import { FleetMetrics, metricsRoute } from './metrics/index.ts';
import { type CloudMqttConnection, connectCloudMqtt, MqttConnectionError } from './mqtt/connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './mqtt/embedded-broker.ts';
import {
  type Job,
  JobRunner,
  ModelJobs,
  ModelPipeline,
  type ModelPipelineOptions,
} from './pipeline/index.ts';
import { type ModelRegistry, openModelRegistry } from './registry/index.ts';
import { RetrainOrchestrator } from './retraining/index.ts';
import { RolloutScheduler, RolloutService } from './rollouts/index.ts';
import { SamplesConsumer } from './samples/index.ts';
import { webRoutes } from './web/index.ts';

export interface RunningCloud {
  urls: {
    api: string;
    docs: string;
    openapi: string;
    mqtt: string;
    mqttWs?: string;
    /** The web SDK demo page; with the quick start's demo app key in the fragment when there is one. */
    demo: string;
    /** The fleet dashboard (asks for an API token, or takes one as `#token=`). */
    dashboard: string;
  };
  /** Set when the quick start made (or found) an admin token in the data dir. */
  adminToken?: string;
  /** Set when the quick start made (or found) its `demo` app key in the data dir. */
  demoAppKey?: string;
  databaseDriver: 'pglite' | 'postgres';
  /** The quick start's first training, when this start began one (a fresh data dir). */
  bootstrapJob?: Job;
  /** Pipeline jobs (training, import, quantization, evaluation) of this process. */
  jobs: JobRunner;
  logger: Logger;
  metrics: Registry;
  /** Graceful stop: finish in-flight requests, close MQTT and the broker, close the database. */
  close(): Promise<void>;
}

export interface StartCloudOptions {
  logger?: Logger;
  signal?: AbortSignal;
  /**
   * Train the default `digits` model when the registry is empty. Default: on for the quick start, so
   * a fresh `edgeloop start` ends with a champion to roll out; tests that do not need it turn it off.
   */
  bootstrapModel?: boolean | { epochs: number };
  /** Alert evaluation: interval and thresholds over the documented defaults (alerts/thresholds.ts). */
  alerts?: Pick<AlertEvaluatorOptions, 'intervalMs' | 'thresholds'>;
  /** Pipeline settings (tests shorten latency measurements). */
  pipeline?: Partial<Omit<ModelPipelineOptions, 'registry' | 'store'>>;
  /**
   * Drift monitor: how the fleet is sliced (device class by default, or group), how often it
   * evaluates (default 60 s) and the detector's thresholds. Tests and demos shorten the interval.
   */
  drift?: Pick<DriftMonitorOptions, 'scope' | 'intervalMs' | 'settleMs' | 'detector'>;
}

/** The quick start's default model: MNIST digits, 2 epochs (~1 min on two cores), as champion. */
export const BOOTSTRAP_MODEL = 'digits';
const BOOTSTRAP_EPOCHS = 2;

export async function startCloud(
  config: CloudConfig,
  options: StartCloudOptions = {},
): Promise<RunningCloud> {
  const logger = options.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const log = (component: string) => logger.child({ component });
  const metrics = new Registry();
  const retry = { retryForMs: config.startup.retryForMs, signal: options.signal };
  // Everything started so far, stopped in reverse if a later step fails or on close().
  const stops: { name: string; stop: () => Promise<unknown> }[] = [];

  try {
    // openDatabase retries an unreachable PostgreSQL itself (same bound), and fails at once on
    // errors waiting cannot fix (wrong password, missing database).
    const database = await openDatabase({
      ...(config.database.url ? { url: config.database.url } : { dataDir: join(config.dataDir, 'db') }),
      log: log('db'),
      retry: { timeoutMs: config.startup.retryForMs },
    });
    stops.push({ name: 'database', stop: () => database.close() });
    await database.migrate();
    log('db').info({ driver: database.driver, location: database.location }, 'database ready');

    // The signing key (generated on first start) and artifacts live in the data dir, with the
    // registry's rows in the database; pipeline jobs stop before the database closes.
    const { registry, store, keys } = await openModelRegistry({
      db: database.db,
      dataDir: config.dataDir,
      log: { info: (m) => log('registry').info(m), warn: (m) => log('registry').warn(m) },
    });
    const jobs = new JobRunner({ db: database.db, logger: log('pipeline') });
    stops.push({ name: 'pipeline jobs', stop: () => jobs.close() });
    const modelJobs = new ModelJobs(new ModelPipeline({ ...options.pipeline, registry, store }), jobs);
    let profiles: Promise<Map<string, DeviceProfile>> | undefined;
    // SEAM (broker engineer): the MQTT bridge (desired state out, telemetry in) starts after `mqtt` below.

    const cloudSecret = config.mqtt.cloudSecret ?? randomBytes(24).toString('base64url');
    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: cloudSecret },
    });

    let broker: EmbeddedBroker | undefined;
    if (!config.mqtt.url) {
      broker = await startEmbeddedBroker({
        authenticator: identity,
        host: config.mqtt.host,
        port: config.mqtt.tcpPort,
        websocketPort: config.mqtt.wsPort,
        logger: log('broker'),
        registry: metrics,
        // Devices connect once every consumer below is subscribed (`admitDevices`).
        holdDevices: {},
      });
      stops.push({ name: 'broker', stop: () => (broker as EmbeddedBroker).close() });
    }
    const mqttUrl = config.mqtt.url ?? (broker as EmbeddedBroker).url;
    const mqtt: CloudMqttConnection = await retryUntilReady(
      `MQTT broker ${redactUrl(mqttUrl)}`,
      () =>
        connectCloudMqtt({
          url: mqttUrl,
          username: CLOUD_USERNAME,
          password: cloudSecret,
          connectTimeoutMs: 5_000,
          logger: log('mqtt'),
          // One session per data dir: telemetry published while this process restarts waits at
          // the broker (found by the chaos suite: windows acked by the broker were otherwise lost).
          clientId: cloudClientId(config.dataDir),
          persistentSession: {},
        }),
      {
        ...retry,
        logger: log('mqtt'),
        isPermanent: (err) => err instanceof MqttConnectionError && err.code === 'UNAUTHENTICATED',
      },
    );
    stops.push({ name: 'mqtt', stop: () => mqtt.close() });
    // The MQTT bridge (status, reported, telemetry in; desired state out) with telemetry ingestion
    // behind it: batched writes, backpressure through withheld acks, rollups and retention.
    // One shared-subscription group per deployment (MQTT 5 brokers): its cloud processes split
    // telemetry, samples and artifact requests; another deployment on the same broker is not in it.
    const shareGroup = config.mqtt.shareGroup;
    const telemetry = await startTelemetryIngestion({
      db: database.db,
      connection: mqtt,
      registry: metrics,
      logger: log('ingest'),
      bridge: { shareGroup: `${shareGroup}-ingest` },
    });
    stops.push({ name: 'telemetry ingestion', stop: () => telemetry.stop() });
    // Retraining samples devices send (el/v1/dev/+/samples) into fleet_samples; each batch is
    // acknowledged once written, so a brief database outage holds it at the broker instead.
    const samples = new SamplesConsumer({
      shareGroup: `${shareGroup}-samples`,
      db: database.db,
      connection: mqtt,
      registry: metrics,
      logger: log('samples'),
    });
    await samples.start();
    stops.push({ name: 'samples ingestion', stop: () => samples.stop() });
    // Rollouts: devices fetch what the scheduler sends from the artifact server (64 KiB chunks, the
    // profiles' default); the scheduler runs only while this process holds the advisory lock.
    const artifactServer = new ArtifactServer({
      shareGroup: `${shareGroup}-artifacts`,
      connection: mqtt,
      // Embedded: chunks are fanned out from inside the broker, not through the cloud's connection.
      ...(broker ? { publishChunk: broker.publish } : {}),
      store,
      db: database.db,
      registry: metrics,
      logger: log('delivery'),
    });
    await artifactServer.start();
    stops.push({ name: 'artifact server', stop: () => artifactServer.stop() });
    const rolloutScheduler = new RolloutScheduler({
      database,
      bridge: telemetry.bridge,
      registry,
      logger: log('rollouts'),
    });
    await rolloutScheduler.start();
    stops.push({ name: 'rollout scheduler', stop: () => rolloutScheduler.stop() });
    const deviceProfiles = () => {
      profiles ??= loadProfiles();
      return profiles;
    };
    const rollouts = new RolloutService({
      db: database.db,
      registry,
      profiles: deviceProfiles,
      onChange: () => rolloutScheduler.nudge(),
    });
    // Retraining: drift (or an operator) → challenger on original + recent edge data → gates →
    // canary through the rollouts above → champion; one process orchestrates (advisory lock).
    const retraining = new RetrainOrchestrator({
      database,
      registry,
      artifacts: store,
      jobs: modelJobs,
      rollouts,
      logger: log('retraining'),
    });
    await retraining.start();
    stops.push({ name: 'retraining orchestrator', stop: () => retraining.stop() });
    // Every consumer of the cloud's connection is registered: what the session kept may flow now.
    mqtt.messages.startRouting();
    // Subscribed everywhere: what devices publish from now on has a subscriber.
    broker?.admitDevices();
    // Stopped first: what arrives while the consumers stop waits in the session, unacknowledged.
    stops.push({ name: 'mqtt routing', stop: async () => mqtt.messages.pauseRouting() });
    const fleetMetrics = new FleetMetrics({ db: database.db, registry: metrics, logger: log('metrics') });
    // Drift: sketched telemetry per model version × device class against the reference profile,
    // stored in drift_reports and on the edgeloop_drift_score gauge.
    const driftMonitor = new DriftMonitor({
      ...options.drift,
      db: database.db,
      lock: sessionAdvisoryLock(database, 'driftMonitor'),
      logger: log('drift'),
      onScore: (model, version, feature, psi) => fleetMetrics.setDriftScore(model, version, feature, psi),
      onReport: (report) => retraining.onDriftReport(report),
      onBaseline: (b) => {
        retraining.store
          .recordEvent('drift.baseline.active', b.model, 'drift-monitor', {
            version: b.version,
            scopeKind: b.scopeKind,
            scope: b.scope,
            samples: b.collectedSamples,
          })
          .catch(() => undefined); // the log line of the monitor already tells
      },
    });
    driftMonitor.start();
    stops.push({ name: 'drift monitor', stop: () => driftMonitor.stop() });
    // Alerts: devices offline, error-rate spikes, stuck rollouts and drift, as rows in `alerts` (and
    // events) every 30 s by default; one process evaluates at a time (advisory lock).
    const alertEvaluator = new AlertEvaluator({ ...options.alerts, db: database.db, logger: log('alerts') });
    alertMetrics({ db: database.db, registry: metrics, logger: log('alerts') });
    alertEvaluator.start();
    stops.push({ name: 'alert evaluator', stop: () => alertEvaluator.stop() });

    const tokens = new ApiTokenStore(database.db);
    if (config.auth.adminToken) {
      const outcome = await tokens.ensure(config.auth.adminToken, {
        name: 'configured admin',
        role: 'admin',
      });
      if (outcome === 'revoked')
        log('auth').warn({}, 'the configured admin token (EDGELOOP_ADMIN_TOKEN) is revoked');
    }
    const adminToken = config.quickStart
      ? await quickStartAdminToken(config.dataDir, tokens, log('auth'))
      : undefined;
    const demoAppKey = config.quickStart
      ? await quickStartDemoKey(config.dataDir, new AppKeyStore(database.db), log('auth'))
      : undefined;

    const deps: ApiDeps = {
      db: database.db,
      identity,
      brokerUrls: {
        tcp: broker?.url ?? redactUrl(mqttUrl),
        ...(broker?.websocketUrl ? { ws: broker.websocketUrl } : {}),
      },
      readiness: {
        database: async () => {
          await database.db.execute(sql`select 1`);
        },
        mqtt: async () => {
          if (!mqtt.client.connected) throw new Error('cloud MQTT connection is down (reconnecting)');
        },
      },
      logger: log('api'),
      metrics,
      bodyLimit: config.http.bodyLimit,
      rollouts,
      retraining,
      webTelemetry: telemetry.ingestor,
      models: {
        registry,
        store,
        publicKeys: () => [keys.publicKey],
        jobs: modelJobs,
        deviceProfiles: () => {
          profiles ??= loadProfiles();
          return profiles;
        },
      },
    };
    const app = createApiApp(deps);
    // Prometheus scrapes /metrics with a viewer token (same registry as /api/v1/metrics).
    app.route('/', metricsRoute(metrics, tokens));
    // onnxruntime-web's wasm, the web SDK bundle and the /demo page, for browsers.
    app.route('/', webRoutes());
    // The fleet dashboard: a static page that reads the operator API with the user's token.
    app.route('/', dashboardRoutes());
    const http = await startHttpServer(app.fetch, {
      host: config.http.host,
      port: config.http.port,
      logger: log('http'),
    });
    stops.push({ name: 'http', stop: () => http.close(config.shutdown.graceMs) });

    const api = config.http.publicUrl?.replace(/\/$/, '') ?? http.url;
    const urls = {
      api,
      docs: `${api}/docs`,
      demo: `${api}/demo${demoAppKey ? `#key=${demoAppKey}` : ''}`,
      openapi: `${api}/openapi.json`,
      dashboard: `${api}${DASHBOARD_PATH}`,
      mqtt: broker?.url ?? redactUrl(mqttUrl),
      ...(broker?.websocketUrl ? { mqttWs: broker.websocketUrl } : {}),
    };
    // The demo link carries an app key in its fragment: logs get the page without it.
    logger.info(
      { component: 'cloud', ...urls, demo: `${api}/demo`, database: database.driver },
      'edgeloop cloud started',
    );
    const bootstrapJob = await bootstrapModel(
      registry,
      modelJobs,
      options.bootstrapModel ?? config.quickStart,
    );
    if (bootstrapJob) {
      log('pipeline').info(
        {
          jobId: bootstrapJob.id,
          model: BOOTSTRAP_MODEL,
          events: `${api}/api/v1/jobs/${bootstrapJob.id}/events`,
        },
        'no model yet: training the default model in the background',
      );
    }

    let closing: Promise<void> | undefined;
    return {
      urls,
      ...(adminToken ? { adminToken } : {}),
      ...(demoAppKey ? { demoAppKey } : {}),
      ...(bootstrapJob ? { bootstrapJob } : {}),
      databaseDriver: database.driver,
      jobs,
      logger,
      metrics,
      close: () => {
        closing ??= stopAll(stops, logger);
        return closing;
      },
    };
  } catch (err) {
    await stopAll(stops, logger);
    throw err;
  }
}

/** Starts training the default model when the registry has none and bootstrapping is on. */
async function bootstrapModel(
  registry: ModelRegistry,
  jobs: ModelJobs,
  setting: boolean | { epochs: number },
): Promise<Job | undefined> {
  if (setting === false || (await registry.listModels()).length > 0) return undefined;
  const epochs = setting === true ? BOOTSTRAP_EPOCHS : setting.epochs;
  return jobs.train({
    model: BOOTSTRAP_MODEL,
    dataset: { kind: 'mnist' },
    hyperparameters: { epochs },
    aliases: ['champion'],
    description: 'Handwritten digits (MNIST), trained by the quick start',
    actor: 'quick-start',
  });
}

async function stopAll(
  stops: { name: string; stop: () => Promise<unknown> }[],
  logger: Logger,
): Promise<void> {
  for (const { name, stop } of stops.reverse()) {
    try {
      await stop();
      logger.debug({ component: 'cloud', part: name }, 'stopped');
    } catch (err) {
      // Keep going: a broker that fails to close must not leave the database open.
      logger.error({ component: 'cloud', part: name, err }, 'failed to stop cleanly');
    }
  }
  logger.info({ component: 'cloud' }, 'edgeloop cloud stopped');
  await logger.flush();
}

/** Stable per host and data dir, so a restarted process resumes its own MQTT session. */
function cloudClientId(dataDir: string): string {
  const key = createHash('sha256')
    .update(`${hostname()}\0${resolve(dataDir)}`)
    .digest('hex');
  return `edgeloop-cloud-${key.slice(0, 16)}`;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
