import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';

// ── Drift ───────────────────────────────────────────────────────────────────────────────────────

/**
 * One drift evaluation of a model version on one slice of the fleet (`scope_kind` `device_class` or
 * `group`, `scope` its name): the `DriftReport` (shared contract) as jsonb, with the columns the
 * API filters and the dashboard sorts on pulled out of it.
 */
export const driftReports = pgTable(
  'drift_reports',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    modelName: text('model_name').notNull(),
    modelVersion: integer('model_version').notNull(),
    scopeKind: text('scope_kind', { enum: ['device_class', 'group'] }).notNull(),
    scope: text('scope').notNull(),
    /** Fingerprint of the reference profile compared against. */
    profile: text('profile').notNull(),
    state: text('state', { enum: ['insufficient-data', 'ok', 'warn', 'alert'] }).notNull(),
    changed: boolean('changed').notNull(),
    /** Features at warn or alert, most drifted first. */
    drifted: text('drifted').array().notNull(),
    samples: integer('samples').notNull(),
    windows: integer('windows').notNull(),
    /** The telemetry windows merged: earliest start and latest end. */
    windowStart: timestamp('window_start', { withTimezone: true, mode: 'date' }).notNull(),
    windowEnd: timestamp('window_end', { withTimezone: true, mode: 'date' }).notNull(),
    report: jsonb('report').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('drift_reports_model_idx').on(t.modelName, t.modelVersion, t.createdAt)],
);

/**
 * A slice's own reference for one model version, replacing the version's validation profile for
 * that slice: after a retrained version is promoted for drift there (or an operator accepts the
 * change), its windows are collected until `target_samples` inferences, then the merged windows
 * become its reference (`referenceFromWindows`). `collecting` rows have no profile yet.
 */
export const driftBaselines = pgTable(
  'drift_baselines',
  {
    modelName: text('model_name').notNull(),
    modelVersion: integer('model_version').notNull(),
    scopeKind: text('scope_kind', { enum: ['device_class', 'group'] }).notNull(),
    scope: text('scope').notNull(),
    status: text('status', { enum: ['collecting', 'active'] }).notNull(),
    /** New for every request: collection progress is written only to the request it belongs to. */
    requestId: text('request_id').notNull(),
    targetSamples: integer('target_samples').notNull(),
    collectedSamples: integer('collected_samples').notNull().default(0),
    profile: jsonb('profile'),
    reason: text('reason').notNull(),
    requestedBy: text('requested_by').notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    activatedAt: timestamp('activated_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.modelName, t.modelVersion, t.scopeKind, t.scope] })],
);
