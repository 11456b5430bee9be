// Model delivery over MQTT, cloud side: answers devices' chunk requests on the shared artifact topic.

export type { DeviceRateLimit as RateLimitOptions } from '../limits/device-rate-limiter.ts';
export {
  ArtifactServer,
  type ArtifactServerOptions,
  DEFAULT_CHUNK_SIZE,
  DeliveryError,
} from './artifact-server.ts';
export { chunkByteRange, chunkCount, selectChunks } from './chunk-geometry.ts';
export { type ArtifactServerStats, REQUEST_OUTCOMES, type RequestOutcome } from './delivery-metrics.ts';
export { type EntitlementCheck, everyStoredArtifact, registeredArtifacts } from './entitlement.ts';
