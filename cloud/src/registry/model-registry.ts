// The signed model registry: models, their immutable numbered versions and per-variant artifacts,
// and aliases. A registration is all-or-nothing: inputs and artifacts are checked before anything
// is written, artifacts are stored content-addressed (idempotent, so a retry or a failure costs at
// most an unreferenced blob), and every row, signature and alias of the version commits in one
// transaction or not at all.
import { EdgeloopError, type ModelVariant, modelNameSchema } from '@edgeloop/shared';
import { and, eq, inArray, max } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import { toEdgeloopError } from '../db/errors.ts';
import { artifacts, events, models, modelVariants, modelVersions } from '../db/schema.ts';
import { aliasHistory, deleteAlias, modelSubject, writeAlias } from './aliases.ts';
import { type ArtifactStore, sha256Hex } from './artifact-store.ts';
import {
  getModel,
  getVariant,
  getVersion,
  latestVersion,
  listModels,
  notFound,
  resolveAlias,
  toVariantRecord,
} from './model-queries.ts';
import type {
  AliasChange,
  ModelDetail,
  ModelRecord,
  ModelSummary,
  VariantRecord,
  VersionRecord,
} from './records.ts';
import {
  type ArtifactCheck,
  aliasNameSchema,
  buildManifest,
  checkOnnxArtifact,
  type ParsedRegistration,
  parseRegistration,
  type RegisterVersionInput,
} from './registration.ts';
import type { ManifestSigner } from './signing-keys.ts';

type ParsedVariant = ParsedRegistration['variants'][number];

export const MODEL_CREATED_EVENT = 'model.created';
export const VERSION_REGISTERED_EVENT = 'model.version.registered';

export interface ModelRegistryOptions {
  db: Db;
  store: ArtifactStore;
  signer: ManifestSigner;
  /** Checks beyond the ONNX structure, run on every artifact before anything is stored. */
  checkArtifact?: ArtifactCheck;
  now?: () => Date;
}

const createModelSchema = z.object({
  name: modelNameSchema,
  classes: z.array(z.string().min(1).max(64)).min(2).max(1000),
  description: z.string().max(2000).default(''),
  actor: z.string().min(1).max(128).default('system'),
});
export type CreateModelInput = z.input<typeof createModelSchema>;

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new EdgeloopError('VALIDATION_FAILED', `invalid ${what}: ${z.prettifyError(parsed.error)}`, {
      details: parsed.error.issues,
    });
  }
  return parsed.data;
}

export class ModelRegistry {
  readonly #db: Db;
  readonly #store: ArtifactStore;
  readonly #signer: ManifestSigner;
  readonly #checkArtifact: ArtifactCheck | undefined;
  readonly #now: () => Date;

  constructor(options: ModelRegistryOptions) {
    this.#db = options.db;
    this.#store = options.store;
    this.#signer = options.signer;
    this.#checkArtifact = options.checkArtifact;
    this.#now = options.now ?? (() => new Date());
  }

  async createModel(input: CreateModelInput): Promise<ModelRecord> {
    const { name, classes, description, actor } = parseOrThrow(createModelSchema, input, 'model');
    const createdAt = this.#now();
    try {
      return await this.#db.transaction(async (tx) => {
        const [row] = await tx.insert(models).values({ name, classes, description, createdAt }).returning();
        await tx.insert(events).values({
          kind: MODEL_CREATED_EVENT,
          subject: modelSubject(name),
          actor,
          at: createdAt,
          data: { classes },
        });
        return row!;
      });
    } catch (error) {
      const wrapped = toEdgeloopError(error, `creating model ${name}`);
      if (wrapped.code === 'CONFLICT')
        throw new EdgeloopError('CONFLICT', `model ${name} already exists`, { cause: error });
      throw wrapped;
    }
  }

  /**
   * Registers the next version of a model with one or more variants. Assigns the version number,
   * stores each artifact by sha256, builds and signs each variant's manifest, and points `aliases`
   * at the new version, all in one transaction. Refuses a corrupted artifact (MODEL_INVALID) or bad
   * input (VALIDATION_FAILED) before anything is written.
   */
  async registerVersion(input: RegisterVersionInput): Promise<VersionRecord> {
    const registration = parseRegistration(input);
    const { model: name, variants } = registration;
    const [model] = await this.#db.select().from(models).where(eq(models.name, name));
    if (model === undefined) throw notFound(`model ${name}`);

    // Everything that can be checked without a version number is checked before a byte is stored.
    const createdAt = this.#now();
    const checked: { variant: ParsedVariant; sha256: string; opset: number | undefined }[] = [];
    for (const variant of variants) {
      const label = `${name} ${variant.variant} artifact`;
      const { opset } = checkOnnxArtifact(variant.bytes, variant.manifestFields, label);
      const sha256 = sha256Hex(variant.bytes);
      const draft = buildManifest({
        model: name,
        version: 1,
        variant,
        sha256,
        opset,
        classes: model.classes,
        createdAt,
      });
      if (this.#checkArtifact !== undefined) {
        try {
          await this.#checkArtifact(variant.bytes, draft);
        } catch (cause) {
          if (cause instanceof EdgeloopError) throw cause;
          throw new EdgeloopError('MODEL_INVALID', `${label}: ${(cause as Error).message}`, { cause });
        }
      }
      checked.push({ variant, sha256, opset });
    }
    for (const { variant, sha256 } of checked) {
      const stored = await this.#store.put(variant.bytes);
      if (stored.sha256 !== sha256)
        throw new EdgeloopError('INTERNAL', `artifact store returned ${stored.sha256} for ${sha256}`);
    }

    try {
      return await this.#db.transaction(async (tx) => {
        // Row lock on the model: concurrent registrations of one model take turns, so max+1 is safe.
        await tx.select({ name: models.name }).from(models).where(eq(models.name, name)).for('update');
        const [latest] = await tx
          .select({ version: max(modelVersions.version) })
          .from(modelVersions)
          .where(eq(modelVersions.modelName, name));
        const version = (latest?.version ?? 0) + 1;
        const { lineage } = registration;
        if (lineage.parentVersion !== undefined && lineage.parentVersion >= version) {
          throw new EdgeloopError(
            'VALIDATION_FAILED',
            `lineage.parentVersion ${lineage.parentVersion} is not a registered version of ${name} (latest is ${version - 1})`,
          );
        }
        await tx.insert(modelVersions).values({
          modelName: name,
          version,
          createdAt,
          lineage,
          metrics: registration.metrics ?? null,
          referenceProfile: registration.referenceProfile ?? null,
        });
        const records: VariantRecord[] = [];
        for (const { variant, sha256, opset } of checked) {
          const manifest = buildManifest({
            model: name,
            version,
            variant,
            sha256,
            opset,
            classes: model.classes,
            createdAt,
          });
          const signature = await this.#signer.signManifest(manifest);
          await tx
            .insert(artifacts)
            .values({ sha256, size: variant.bytes.length, createdAt })
            .onConflictDoNothing();
          const [row] = await tx
            .insert(modelVariants)
            .values({
              modelName: name,
              version,
              variant: variant.variant,
              sha256,
              manifest,
              signature,
              metrics: variant.metrics ?? null,
              quantizationReport: variant.quantizationReport ?? null,
              createdAt,
            })
            .returning();
          records.push(toVariantRecord({ ...row!, size: variant.bytes.length }));
        }
        await tx.insert(events).values({
          kind: VERSION_REGISTERED_EVENT,
          subject: modelSubject(name),
          actor: registration.actor,
          at: createdAt,
          data: { version, variants: records.map((r) => ({ variant: r.variant, sha256: r.sha256 })) },
        });
        for (const alias of registration.aliases) {
          await writeAlias(tx, { model: name, alias, version, actor: registration.actor, at: createdAt });
        }
        return {
          model: name,
          version,
          createdAt,
          lineage,
          metrics: registration.metrics ?? null,
          referenceProfile: registration.referenceProfile ?? null,
          variants: records,
          aliases: [...registration.aliases].sort(),
        };
      });
    } catch (error) {
      throw toEdgeloopError(error, `registering a version of ${name}`);
    }
  }

  listModels(): Promise<ModelSummary[]> {
    return listModels(this.#db);
  }

  /** The model with its versions (numbers, dates, variants) and aliases. */
  getModel(name: string): Promise<ModelDetail> {
    return getModel(this.#db, name);
  }

  getVersion(model: string, version: number): Promise<VersionRecord> {
    return getVersion(this.#db, model, version);
  }

  /** One variant's signed manifest and metadata: what a device is told to fetch. */
  getVariant(model: string, version: number, variant: ModelVariant): Promise<VariantRecord> {
    return getVariant(this.#db, model, version, variant);
  }

  /** The highest registered version of a model. */
  latestVersion(model: string): Promise<VersionRecord> {
    return latestVersion(this.#db, model);
  }

  resolveAlias(model: string, alias: string): Promise<VersionRecord> {
    return resolveAlias(this.#db, model, alias);
  }

  /** Points `alias` at an existing version and records the move in the event log. */
  async setAlias(model: string, alias: string, version: number, actor = 'system'): Promise<AliasChange> {
    parseOrThrow(aliasNameSchema, alias, 'alias');
    try {
      return await this.#db.transaction(async (tx) => {
        const [exists] = await tx
          .select({ version: modelVersions.version })
          .from(modelVersions)
          .where(and(eq(modelVersions.modelName, model), eq(modelVersions.version, version)));
        if (exists === undefined) throw notFound(`model ${model} version ${version}`);
        return writeAlias(tx, { model, alias, version, actor, at: this.#now() });
      });
    } catch (error) {
      throw toEdgeloopError(error, `setting alias ${alias} of ${model}`);
    }
  }

  /** Removes an alias; NOT_FOUND when it does not exist. */
  async removeAlias(model: string, alias: string, actor = 'system'): Promise<AliasChange> {
    const removed = await this.#db.transaction((tx) =>
      deleteAlias(tx, { model, alias, actor, at: this.#now() }),
    );
    if (removed === null) throw notFound(`alias ${alias} of model ${model}`);
    return removed;
  }

  /**
   * Deletes stored blobs no artifact row references and that were last stored more than `minAgeMs`
   * ago: what failed registrations leave behind. The age keeps it off blobs a registration in
   * progress has stored but not yet committed (storing existing bytes again refreshes their age).
   */
  async sweepUnreferencedArtifacts(options: { minAgeMs?: number } = {}): Promise<{ deleted: string[] }> {
    const cutoff = this.#now().getTime() - (options.minAgeMs ?? 3_600_000);
    const candidates: string[] = [];
    for await (const blob of this.#store.list()) {
      if (blob.storedAt.getTime() < cutoff) candidates.push(blob.sha256);
    }
    const deleted: string[] = [];
    for (let i = 0; i < candidates.length; i += 500) {
      const batch = candidates.slice(i, i + 500);
      const referenced = await this.#db
        .select({ sha256: artifacts.sha256 })
        .from(artifacts)
        .where(inArray(artifacts.sha256, batch));
      const keep = new Set(referenced.map((r) => r.sha256));
      for (const sha256 of batch.filter((s) => !keep.has(s))) {
        await this.#store.delete(sha256);
        deleted.push(sha256);
      }
    }
    return { deleted };
  }

  /** Every move of a model's aliases (or one alias), oldest first. */
  aliasHistory(model: string, alias?: string): Promise<AliasChange[]> {
    return aliasHistory(this.#db, model, alias);
  }
}
