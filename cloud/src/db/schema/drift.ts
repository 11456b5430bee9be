import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
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
