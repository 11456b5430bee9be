import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

// ── Rollouts (cloud/src/rollouts) ───────────────────────────────────────────────────────────────

const rolloutAt = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * A rollout moves a target (group, tags, class or device list) to one model version in waves. All
 * of its state lives here so any cloud process can resume it; `revision` is bumped on every write so
 * a scheduler tick and an operator command never overwrite each other (optimistic concurrency).
 */
export const rollouts = pgTable(
  'rollouts',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['rollout', 'rollback'] }).notNull(),
    /** The rollout a rollback reverses. */
    rollbackOf: text('rollback_of'),
    modelName: text('model_name').notNull(),
    /** Target version; for a rollback, the version most of its devices return to (each row has its own). */
    version: integer('version').notNull(),
    /** RolloutTarget as given (rollouts/policy.ts). */
    target: jsonb('target').notNull(),
    /** RolloutPolicy with defaults applied. */
    policy: jsonb('policy').notNull(),
    seed: integer('seed').notNull(),
    status: text('status', {
      enum: ['running', 'paused', 'completed', 'aborted', 'rolled_back'],
    }).notNull(),
    /** Why the rollout is in its status (the last transition's reason). */
    reason: text('reason').notNull().default(''),
    currentWave: integer('current_wave').notNull().default(0),
    revision: integer('revision').notNull().default(0),
    createdBy: text('created_by').notNull().default('system'),
    createdAt: rolloutAt('created_at').notNull().defaultNow(),
    updatedAt: rolloutAt('updated_at').notNull().defaultNow(),
    finishedAt: rolloutAt('finished_at'),
  },
  (t) => [index('rollouts_status_idx').on(t.status)],
);

export const rolloutWaves = pgTable(
  'rollout_waves',
  {
    rolloutId: text('rollout_id')
      .notNull()
      .references(() => rollouts.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    status: text('status', { enum: ['pending', 'running', 'soaking', 'passed', 'failed'] }).notNull(),
    /** Effective thresholds, soak and timeout of this wave (WaveParams). */
    params: jsonb('params').notNull(),
    /** Failures the operator accepted when resuming after a trip; only new ones count. */
    acceptedFailures: integer('accepted_failures').notNull().default(0),
    startedAt: rolloutAt('started_at'),
    soakStartedAt: rolloutAt('soak_started_at'),
    finishedAt: rolloutAt('finished_at'),
  },
  (t) => [primaryKey({ name: 'rollout_waves_pk', columns: [t.rolloutId, t.index] })],
);

/**
 * Each device of a rollout: its wave, the variant and artifact chosen for its profile, where it is,
 * and the model it ran before (what a rollback returns it to). `claimed` rows are unique per device
 * (partial unique index): two unfinished rollouts can never hold the same device, even when two API
 * processes create them at the same moment.
 */
export const rolloutDevices = pgTable(
  'rollout_devices',
  {
    rolloutId: text('rollout_id')
      .notNull()
      .references(() => rollouts.id, { onDelete: 'cascade' }),
    deviceId: text('device_id').notNull(),
    /** null for an excluded device. */
    wave: integer('wave'),
    state: text('state', {
      enum: [
        'excluded',
        'pending',
        'sent',
        'downloading',
        'verifying',
        'activating',
        'retrying',
        'active',
        'failed',
        'rolled_back',
        'rejected',
        'timed_out',
      ],
    }).notNull(),
    /** The artifact chosen for this device: a version (a rollback's devices may differ), variant, sha256. */
    modelVersion: integer('model_version'),
    variant: text('variant', { enum: ['fp32', 'int8'] }),
    sha256: text('sha256'),
    chunkSize: integer('chunk_size'),
    /** ModelRef the device reported active when planned (null: none). */
    fromModel: jsonb('from_model'),
    /** Desired-state generation the bridge assigned when this rollout sent it. */
    generation: bigint('generation', { mode: 'number' }),
    /** Set when the device reported active for an artifact it was never sent. */
    flagged: boolean('flagged').notNull().default(false),
    claimed: boolean('claimed').notNull().default(true),
    reason: text('reason').notNull().default(''),
    sentAt: rolloutAt('sent_at'),
    updatedAt: rolloutAt('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'rollout_devices_pk', columns: [t.rolloutId, t.deviceId] }),
    uniqueIndex('rollout_devices_claim_idx').on(t.deviceId).where(sql`${t.claimed}`),
  ],
);

/** Every transition of a rollout, its waves and devices, with the reason. */
export const rolloutEvents = pgTable(
  'rollout_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    rolloutId: text('rollout_id')
      .notNull()
      .references(() => rollouts.id, { onDelete: 'cascade' }),
    at: rolloutAt('at').notNull().defaultNow(),
    kind: text('kind').notNull(),
    wave: integer('wave'),
    deviceId: text('device_id'),
    reason: text('reason').notNull(),
    actor: text('actor').notNull().default('system'),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [index('rollout_events_rollout_idx').on(t.rolloutId, t.id)],
);
