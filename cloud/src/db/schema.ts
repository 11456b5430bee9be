// The cloud's database schema (drizzle, PostgreSQL dialect). The same migrations run on PGlite
// (embedded default) and on PostgreSQL (DATABASE_URL). Tables are grouped by the feature that owns
// them; payload-shaped columns (reported state, manifests, metrics) are jsonb validated by the
// contracts in @edgeloop/shared before they are written.
//
// One file per feature under schema/; this module is what drizzle-kit (drizzle.config.ts) and the
// rest of the cloud import.

export * from './schema/alerts.ts';
export * from './schema/app-keys.ts';
export * from './schema/audit.ts';
export * from './schema/drift.ts';
export * from './schema/fleet.ts';
export * from './schema/registry.ts';
export * from './schema/retraining.ts';
export * from './schema/rollouts.ts';
export * from './schema/telemetry.ts';
