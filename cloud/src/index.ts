// @edgeloop/cloud — the control plane's public entry. bin/cli.ts, bench/ and test/ import from here.

// ── Operator API, configuration, logging, the cloud process and its CLI commands ────────────────
export * from './alerts/index.ts';
export { type ApiApp, createApiApp } from './api/app.ts';
export { ApiTokenStore } from './api/auth/token-store.ts';
export type { ApiDeps } from './api/deps.ts';
export {
  type AfterCloudStart,
  ApiClient,
  type CliCommand,
  type CliIO,
  type CliOption,
  CliUsageError,
  type CliValues,
  cloudCliCommands,
  EXIT,
  quickStartCommand,
} from './cli/index.ts';
export { type HttpServerHandle, startHttpServer } from './cloud/http-server.ts';
export { BOOTSTRAP_MODEL, type RunningCloud, type StartCloudOptions, startCloud } from './cloud.ts';
export {
  type CloudConfig,
  ConfigError,
  cloudConfigSchema,
  loadCloudConfig,
  parseCloudArgs,
} from './config/index.ts';
export { DASHBOARD_PATH, dashboardRoutes } from './dashboard/index.ts';
export * from './datasets/index.ts';
export { type Database, openDatabase, schema } from './db/index.ts';
export { createScratchPostgresDatabase, testDatabases } from './db/testing.ts';
export { ArtifactServer, type ArtifactServerOptions } from './delivery/index.ts';
export * from './drift/index.ts';
export * from './evaluation/index.ts';
export {
  type AuthOutcome,
  type BrokerAuthenticator,
  CLOUD_USERNAME,
  DeviceRegistry,
  type Principal,
} from './identity/index.ts';
export * from './ingest/index.ts';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './log/index.ts';
export * from './metrics/index.ts';
export {
  type CloudMqttConnection,
  connectCloudMqtt,
  type EmbeddedBroker,
  MqttBridge,
  startEmbeddedBroker,
} from './mqtt/index.ts';
export {
  createSession,
  decodeModel,
  detectImageInput,
  encodeModel,
  GraphBuilder,
  imageTensor,
  OnnxFormatError,
  type SessionConfigEntries,
} from './onnx/index.ts';
export * from './pipeline/index.ts';
export * from './quantization/index.ts';
export {
  type ArtifactStore,
  FsArtifactStore,
  type ModelDetail,
  type ModelLineage,
  ModelRegistry,
  type OpenedModelRegistry,
  openModelRegistry,
  type PublicSigningKey,
  SigningKeys,
  type VariantRecord,
  type VersionRecord,
  verifyManifest,
} from './registry/index.ts';
export { judgeChallenger, RetrainOrchestrator, type RetrainRun, RUN_STATUSES } from './retraining/index.ts';
export * from './rollouts/index.ts';
export * from './training/index.ts';
