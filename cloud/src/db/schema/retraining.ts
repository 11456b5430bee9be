import {
  bigserial,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { at, bytea, createdAt } from './columns.ts';
import { models } from './registry.ts';

// ── Retraining: fleet samples, policies, runs (cloud/src/retraining) ────────────────────────────

/**
 * One input a device sent for retraining (shared `Sample`): the model's input tensor as float32
 * little-endian bytes, what the model predicted, and a label once one is known — from the device
 * (the simulator's ground truth), or from an operator through the feedback API. Unique on
 * (device_id, sample_id): a redelivered batch is the same rows.
 */
export const fleetSamples = pgTable(
  'fleet_samples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deviceId: text('device_id').notNull(),
    sampleId: text('sample_id').notNull(),
    modelName: text('model_name').notNull(),
    modelVersion: integer('model_version').notNull(),
    variant: text('variant', { enum: ['fp32', 'int8'] }),
    capturedAt: at('captured_at').notNull(),
    receivedAt: at('received_at').notNull().defaultNow(),
    windowSeq: integer('window_seq'),
    reason: text('reason', { enum: ['random', 'low-confidence'] }).notNull(),
    predictedClass: integer('predicted_class').notNull(),
    confidence: doublePrecision('confidence').notNull(),
    shape: integer('shape').array().notNull(),
    tensor: bytea('tensor').notNull(),
    label: integer('label'),
    /** Who gave the label: `device` (sent with the sample, e.g. simulator ground truth) or `operator`. */
    labelSource: text('label_source', { enum: ['device', 'operator'] }),
    labelledBy: text('labelled_by'),
    labelledAt: at('labelled_at'),
  },
  (t) => [
    uniqueIndex('fleet_samples_device_sample_idx').on(t.deviceId, t.sampleId),
    index('fleet_samples_model_idx').on(t.modelName, t.receivedAt),
  ],
);

/** Per model: when drift may retrain it, with which data, and which gates a challenger must pass. */
export const retrainPolicies = pgTable('retrain_policies', {
  modelName: text('model_name')
    .primaryKey()
    .references(() => models.name, { onDelete: 'cascade' }),
  /** RetrainPolicy (retraining/policy.ts) with defaults applied. */
  policy: jsonb('policy').notNull(),
  updatedBy: text('updated_by').notNull().default('system'),
  updatedAt: at('updated_at').notNull().defaultNow(),
});

/**
 * One retraining run: what triggered it, the data it used (lineage), the challenger it trained, the
 * gate verdict against the champion, and the rollout that canaried it. `status` walks
 * queued → training → evaluating → (rejected | canary → promoted | failed | cancelled).
 */
export const retrainRuns = pgTable(
  'retrain_runs',
  {
    id: text('id').primaryKey(),
    modelName: text('model_name').notNull(),
    status: text('status', {
      enum: ['queued', 'training', 'evaluating', 'rejected', 'canary', 'promoted', 'failed', 'cancelled'],
    }).notNull(),
    trigger: text('trigger', { enum: ['drift', 'manual'] }).notNull(),
    /** What started it: drift report ids and features, or the operator. */
    triggerDetail: jsonb('trigger_detail').notNull().default({}),
    championVersion: integer('champion_version'),
    challengerVersion: integer('challenger_version'),
    rolloutId: text('rollout_id'),
    /** Latest progress update (stage, fraction, message). */
    progress: jsonb('progress').notNull().default({}),
    /** Champion and challenger metrics on the original test set and on recent edge data. */
    evaluation: jsonb('evaluation'),
    /** Datasets, devices and windows that contributed. */
    lineage: jsonb('lineage').notNull().default({}),
    reason: text('reason').notNull().default(''),
    createdBy: text('created_by').notNull().default('system'),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    finishedAt: at('finished_at'),
  },
  (t) => [index('retrain_runs_model_idx').on(t.modelName, t.createdAt)],
);
