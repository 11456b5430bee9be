// The registry's read side: models, versions, variants and alias targets as records. Plain
// functions over `Db`, so they run inside a transaction as well as outside one.
import { EdgeloopError, type ModelVariant } from '@edgeloop/shared';
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { artifacts, modelAliases, models, modelVariants, modelVersions } from '../db/schema.ts';
import { aliasesOf } from './aliases.ts';
import type { ModelDetail, ModelSummary, VariantRecord, VersionRecord } from './records.ts';
import type { ModelLineage } from './registration.ts';

export function notFound(what: string): EdgeloopError {
  return new EdgeloopError('NOT_FOUND', `${what} does not exist`);
}

type VariantRow = typeof modelVariants.$inferSelect & { size: number };

export function toVariantRecord(row: VariantRow): VariantRecord {
  return {
    model: row.modelName,
    version: row.version,
    variant: row.variant,
    sha256: row.sha256,
    size: row.size,
    manifest: row.manifest as VariantRecord['manifest'],
    signature: row.signature as VariantRecord['signature'],
    metrics: (row.metrics as Record<string, unknown> | null) ?? null,
    quantizationReport: (row.quantizationReport as Record<string, unknown> | null) ?? null,
    createdAt: row.createdAt,
  };
}

export async function listModels(db: Db): Promise<ModelSummary[]> {
  const rows = await db
    .select({
      name: models.name,
      description: models.description,
      classes: models.classes,
      createdAt: models.createdAt,
      latestVersion: sql<
        number | null
      >`(select max(${modelVersions.version}) from ${modelVersions} where ${modelVersions.modelName} = ${models.name})`,
    })
    .from(models)
    .orderBy(asc(models.name));
  const aliasRows = await db.select().from(modelAliases);
  return rows.map((row) => ({
    ...row,
    latestVersion: row.latestVersion === null ? null : Number(row.latestVersion),
    aliases: Object.fromEntries(
      aliasRows.filter((a) => a.modelName === row.name).map((a) => [a.alias, a.version]),
    ),
  }));
}

export async function getModel(db: Db, name: string): Promise<ModelDetail> {
  const [model] = await db.select().from(models).where(eq(models.name, name));
  if (model === undefined) throw notFound(`model ${name}`);
  const versionRows = await db
    .select({ version: modelVersions.version, createdAt: modelVersions.createdAt })
    .from(modelVersions)
    .where(eq(modelVersions.modelName, name))
    .orderBy(asc(modelVersions.version));
  const variantRows = await db
    .select({ version: modelVariants.version, variant: modelVariants.variant })
    .from(modelVariants)
    .where(eq(modelVariants.modelName, name))
    .orderBy(asc(modelVariants.variant));
  const versions = versionRows.map((v) => ({
    ...v,
    variants: variantRows.filter((r) => r.version === v.version).map((r) => r.variant),
  }));
  return {
    ...model,
    latestVersion: versions.at(-1)?.version ?? null,
    aliases: await aliasesOf(db, name),
    versions,
  };
}

export async function getVersion(db: Db, model: string, version: number): Promise<VersionRecord> {
  const [row] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelName, model), eq(modelVersions.version, version)));
  if (row === undefined) throw notFound(`model ${model} version ${version}`);
  const variantRows = await db
    .select({ variant: modelVariants, size: artifacts.size })
    .from(modelVariants)
    .innerJoin(artifacts, eq(artifacts.sha256, modelVariants.sha256))
    .where(and(eq(modelVariants.modelName, model), eq(modelVariants.version, version)))
    .orderBy(asc(modelVariants.variant));
  const aliasRows = await db
    .select({ alias: modelAliases.alias })
    .from(modelAliases)
    .where(and(eq(modelAliases.modelName, model), eq(modelAliases.version, version)))
    .orderBy(asc(modelAliases.alias));
  return {
    model,
    version,
    createdAt: row.createdAt,
    lineage: row.lineage as ModelLineage,
    metrics: (row.metrics as Record<string, unknown> | null) ?? null,
    referenceProfile: row.referenceProfile,
    variants: variantRows.map((r) => toVariantRecord({ ...r.variant, size: r.size })),
    aliases: aliasRows.map((a) => a.alias),
  };
}

export async function getVariant(
  db: Db,
  model: string,
  version: number,
  variant: ModelVariant,
): Promise<VariantRecord> {
  const [row] = await db
    .select({ variant: modelVariants, size: artifacts.size })
    .from(modelVariants)
    .innerJoin(artifacts, eq(artifacts.sha256, modelVariants.sha256))
    .where(
      and(
        eq(modelVariants.modelName, model),
        eq(modelVariants.version, version),
        eq(modelVariants.variant, variant),
      ),
    );
  if (row === undefined) throw notFound(`model ${model} version ${version} variant ${variant}`);
  return toVariantRecord({ ...row.variant, size: row.size });
}

/** The latest registered version of a model. */
export async function latestVersion(db: Db, model: string): Promise<VersionRecord> {
  const [row] = await db
    .select({ version: modelVersions.version })
    .from(modelVersions)
    .where(eq(modelVersions.modelName, model))
    .orderBy(desc(modelVersions.version))
    .limit(1);
  if (row === undefined) throw notFound(`a version of model ${model}`);
  return getVersion(db, model, row.version);
}

export async function resolveAlias(db: Db, model: string, alias: string): Promise<VersionRecord> {
  const [row] = await db
    .select({ version: modelAliases.version })
    .from(modelAliases)
    .where(and(eq(modelAliases.modelName, model), eq(modelAliases.alias, alias)));
  if (row === undefined) throw notFound(`alias ${alias} of model ${model}`);
  return getVersion(db, model, row.version);
}
