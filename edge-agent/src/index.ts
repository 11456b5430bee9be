// @edgeloop/edge-agent — the device runtime: `startAgent` (the controller: MQTT connection, desired →
// reported reconciliation, chunked model delivery, A/B activation, local HTTP API, store-and-forward
// telemetry), `runAgentCli` for `edgeloop agent start`, and the building blocks they compose.
export { type AgentDependencies, type AgentHandle, type AgentStatus, startAgent } from './agent.ts';
export { AGENT_USAGE, type AgentCliIo, runAgentCli } from './cli.ts';
export {
  AGENT_VERSION,
  type AgentConfig,
  type AgentConfigInput,
  type AgentTuning,
  agentConfigFromSources,
  agentConfigSchema,
  parseAgentConfig,
} from './config.ts';
export { AgentConnection, type AgentConnectionOptions, newBootId, reconnectDelayMs } from './connection.ts';
export {
  ArtifactDownload,
  type ArtifactDownloadOptions,
  type ChunkOutcome,
  type ChunkRejection,
  type DownloadCounters,
  type DownloadProgress,
} from './download/artifact-download.ts';
export {
  type ArtifactGeometry,
  ChunkBitmap,
  type ChunkRange,
  chunkCount,
  chunkLength,
} from './download/chunk-bitmap.ts';
export { DiskPartFile, type PartFile } from './download/part-file.ts';
export { diskError, SerialQueue, writeFileAtomic } from './durable-fs.ts';
export { AgentEventBus, type AgentEvents } from './event-bus.ts';
export { type GoldenReport, runGoldenCheck } from './golden.ts';
export {
  type Classification,
  type ClassScore,
  type ModelOutputs,
  ModelSession,
  type ProviderFallback,
  type RuntimeProfile,
  sessionOptionsFor,
  softmax,
} from './inference.ts';
export { createLocalApi, httpStatus, type InferResponse, serveLocalApi } from './local-api.ts';
export { type AgentLogger, jsonLinesLogger, silentLogger } from './log.ts';
export { AgentMetrics } from './metrics.ts';
export {
  DEFAULT_IMAGE_LIMITS,
  type ImageInput,
  type ImageLimits,
  ImagePreprocessor,
  type RawImage,
} from './preprocess.ts';
export { SequenceCounter } from './sequence.ts';
export * from './sim/index.ts';
export {
  type BootDecision,
  ModelSlots,
  type ModelSlotsOptions,
  type SlotContents,
  type SlotName,
  type SlotState,
} from './slots.ts';
export { type QueuedWindow, TelemetryQueue, type TelemetryQueueStats } from './telemetry-queue.ts';
export {
  type InferenceRecord,
  percentile,
  TelemetryWindowAccumulator,
  type TelemetryWindowOptions,
} from './telemetry-window.ts';
export { PINNED_KEYS_FILE, resolveTrustedKeys } from './trusted-keys.ts';
export {
  ed25519KeyId,
  type PublicKeyInput,
  sha256File,
  type TrustedKey,
  trustedKey,
  verifyArtifactBytes,
  verifyArtifactFile,
  verifyManifestSignature,
  verifySignedArtifact,
} from './verify.ts';
