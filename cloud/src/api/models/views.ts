// Registry records and jobs as the API shows them: dates as ISO strings, each variant with the URL
// its bytes download from.
import type { Job } from '../../pipeline/index.ts';
import type { ModelDetail, ModelSummary, VariantRecord, VersionRecord } from '../../registry/index.ts';
import type { JobView } from './schemas.ts';

export function artifactUrl(sha256: string): string {
  return `/api/v1/artifacts/${sha256}`;
}

export function summaryView(m: ModelSummary) {
  return {
    name: m.name,
    description: m.description,
    classes: m.classes,
    createdAt: m.createdAt.toISOString(),
    latestVersion: m.latestVersion,
    aliases: m.aliases,
  };
}

export function detailView(m: ModelDetail) {
  return {
    ...summaryView(m),
    versions: m.versions.map((v) => ({ ...v, createdAt: v.createdAt.toISOString() })),
  };
}

export function variantView(v: VariantRecord) {
  return {
    variant: v.variant,
    sha256: v.sha256,
    size: v.size,
    manifest: v.manifest,
    signature: v.signature,
    metrics: v.metrics,
    quantizationReport: v.quantizationReport,
    createdAt: v.createdAt.toISOString(),
    artifactUrl: artifactUrl(v.sha256),
  };
}

export function versionView(v: VersionRecord) {
  return {
    model: v.model,
    version: v.version,
    createdAt: v.createdAt.toISOString(),
    lineage: v.lineage as Record<string, unknown>,
    metrics: v.metrics,
    aliases: v.aliases,
    variants: v.variants.map(variantView),
  };
}

export function jobView(job: Job): JobView {
  return {
    ...job,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

export function jobLinks(id: string) {
  return { self: `/api/v1/jobs/${id}`, events: `/api/v1/jobs/${id}/events` };
}
