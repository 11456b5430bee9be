import {
  bigint,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';

// ── Model registry ──────────────────────────────────────────────────────────────────────────────

export const models = pgTable('models', {
  name: text('name').primaryKey(),
  description: text('description').notNull().default(''),
  /** Class labels by output index. */
  classes: jsonb('classes').$type<string[]>().notNull(),
  createdAt: createdAt(),
});

export const modelVersions = pgTable(
  'model_versions',
  {
    modelName: text('model_name')
      .notNull()
      .references(() => models.name, { onDelete: 'restrict' }),
    version: integer('version').notNull(),
    createdAt: createdAt(),
    /** Dataset hash, training parameters, code version, parent version, trainer. */
    lineage: jsonb('lineage').notNull(),
    /** Evaluation of the fp32 variant (accuracy, per-class, confusion, latency). */
    metrics: jsonb('metrics'),
    /** Reference profile of inputs/embeddings/outputs on validation data (drift baseline). */
    referenceProfile: jsonb('reference_profile'),
  },
  (t) => [primaryKey({ columns: [t.modelName, t.version] })],
);

/** Content-addressed blobs; the bytes live in the artifact store under their sha256. */
export const artifacts = pgTable('artifacts', {
  sha256: text('sha256').primaryKey(),
  size: bigint('size', { mode: 'number' }).notNull(),
  createdAt: createdAt(),
});

export const modelVariants = pgTable(
  'model_variants',
  {
    modelName: text('model_name').notNull(),
    version: integer('version').notNull(),
    variant: text('variant', { enum: ['fp32', 'int8'] }).notNull(),
    sha256: text('sha256')
      .notNull()
      .references(() => artifacts.sha256),
    /** The signed ModelManifest (shared contract) and its Ed25519 signature. */
    manifest: jsonb('manifest').notNull(),
    signature: jsonb('signature').notNull(),
    metrics: jsonb('metrics'),
    quantizationReport: jsonb('quantization_report'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.modelName, t.version, t.variant] }),
    // A variant cannot exist without its version: registration writes both in one transaction.
    foreignKey({
      name: 'model_variants_version_fk',
      columns: [t.modelName, t.version],
      foreignColumns: [modelVersions.modelName, modelVersions.version],
    }),
    index('model_variants_sha256_idx').on(t.sha256),
  ],
);

export const modelAliases = pgTable(
  'model_aliases',
  {
    modelName: text('model_name')
      .notNull()
      .references(() => models.name, { onDelete: 'cascade' }),
    alias: text('alias').notNull(),
    version: integer('version').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.modelName, t.alias] }),
    // No dangling alias: it can only point at a registered version.
    foreignKey({
      name: 'model_aliases_version_fk',
      columns: [t.modelName, t.version],
      foreignColumns: [modelVersions.modelName, modelVersions.version],
    }),
  ],
);
