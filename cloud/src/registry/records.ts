// What the registry hands out: plain, JSON-serialisable records (dates aside) for the API and CLI.
import type { ModelManifest, ModelVariant, Signature } from '@edgeloop/shared';
import type { ModelLineage } from './registration.ts';

export interface ModelRecord {
  name: string;
  description: string;
  /** Class labels by output index. */
  classes: string[];
  createdAt: Date;
}

export interface ModelSummary extends ModelRecord {
  /** Highest registered version, or null before the first registration. */
  latestVersion: number | null;
  /** alias → version. */
  aliases: Record<string, number>;
}

export interface VariantRecord {
  model: string;
  version: number;
  variant: ModelVariant;
  sha256: string;
  size: number;
  /** The manifest exactly as signed; verify with `verifyManifest(manifest, signature, publicKey)`. */
  manifest: ModelManifest;
  signature: Signature;
  metrics: Record<string, unknown> | null;
  quantizationReport: Record<string, unknown> | null;
  createdAt: Date;
}

export interface VersionRecord {
  model: string;
  version: number;
  createdAt: Date;
  lineage: ModelLineage;
  metrics: Record<string, unknown> | null;
  referenceProfile: unknown;
  variants: VariantRecord[];
  /** Aliases currently pointing at this version. */
  aliases: string[];
}

export interface ModelDetail extends ModelSummary {
  versions: { version: number; createdAt: Date; variants: ModelVariant[] }[];
}

/** One alias move, from the event log. `version` null means the alias was removed. */
export interface AliasChange {
  model: string;
  alias: string;
  version: number | null;
  previousVersion: number | null;
  actor: string;
  at: Date;
}
