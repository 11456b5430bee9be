// What the operator API needs from the rest of the cloud. Passed in, never imported, so tests build
// the app on a real database with whatever else they choose, and cloud.ts wires production parts.
import type { DeviceProfile } from '@edgeloop/shared';
import type { Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import type { DeviceRegistry } from '../identity/device-registry.ts';
import type { Logger } from '../log/index.ts';
import type { ModelJobs } from '../pipeline/index.ts';
import type { ArtifactStore, ModelRegistry, PublicSigningKey } from '../registry/index.ts';
import type { RetrainOrchestrator } from '../retraining/index.ts';
import type { RolloutService } from '../rollouts/service.ts';
import type { AppKeyGrant } from './app-keys/scopes.ts';
import type { Role } from './auth/roles.ts';
import type { WebTelemetrySink } from './web-telemetry/routes.ts';

/** Either driver's drizzle handle (PGlite or postgres.js); the API uses only what they share. */
export type ApiDatabase = Db;

/**
 * Device identity lives with the broker (cloud/src/identity): it creates the device row together
 * with its MQTT credentials and tells the broker about revocations, so the broker's logins and the
 * API never disagree about who exists. The API needs only these operations (and the password hashes for an external broker's files).
 */
export type DeviceIdentity = Pick<
  DeviceRegistry,
  'provisionDevice' | 'rotateCredentials' | 'revokeCredentials' | 'passwordEntries'
>;

/**
 * The model registry, its artifacts and signing key, and the pipeline's jobs: what the model, key,
 * artifact and job routes serve. Optional so tests of other features need not build a registry.
 */
export interface ModelApiDeps {
  registry: ModelRegistry;
  store: ArtifactStore;
  /** The public keys devices verify manifests with (the current signing key first). */
  publicKeys: () => PublicSigningKey[];
  jobs: ModelJobs;
  /** Device classes (firmware-configs) by id: which variant each prefers and how large it may be. */
  deviceProfiles: () => Promise<Map<string, DeviceProfile>>;
  /** Largest model import body (base64 JSON), bytes; the general body limit is far smaller. */
  uploadLimit?: number;
}

/** A readiness probe: resolves when the dependency answers, throws (with a reason) when not. */
export type ReadinessCheck = () => Promise<void>;

export interface ApiDeps {
  db: ApiDatabase;
  identity: DeviceIdentity;
  /** Where devices connect; echoed with new credentials so an operator can configure the agent. */
  brokerUrls: { tcp?: string; ws?: string };
  readiness: Record<string, ReadinessCheck>;
  logger: Logger;
  /** Where the API's Prometheus series go; a private registry when omitted. */
  metrics?: Registry;
  /** Largest accepted request body, bytes. */
  bodyLimit: number;
  /** Clock for token expiry and last-used stamps (tests move it). */
  now?: () => Date;
  /** Models, artifacts, signing keys and pipeline jobs; their routes are mounted when present. */
  models?: ModelApiDeps;
  /** Rollouts; `/api/v1/rollouts` is mounted when present. */
  rollouts?: RolloutService;
  /** Retraining policies and runs; their routes are mounted when present. */
  retraining?: RetrainOrchestrator;
  /** Telemetry ingestion; `POST /api/v1/telemetry` (browsers, app keys) is mounted when present. */
  webTelemetry?: WebTelemetrySink;
}

/**
 * Who is calling. An app key (web SDK) is a viewer confined by `appKey` to the SDK routes its
 * scopes name (app-keys/cross-origin.ts); operator tokens have no `appKey`.
 */
export type Principal = { tokenId: string; name: string; role: Role; appKey?: AppKeyGrant };

/** Hono's per-request variables for every API route. */
export type ApiEnv = {
  Variables: {
    requestId: string;
    principal: Principal;
    logger: Logger;
  };
};
