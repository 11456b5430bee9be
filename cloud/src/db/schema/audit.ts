import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './columns.ts';

// ── Audit events and dead letters ───────────────────────────────────────────────────────────────

/** Every state transition worth explaining later: provisioning, alias moves, rollout waves. */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    kind: text('kind').notNull(),
    subject: text('subject').notNull(),
    actor: text('actor').notNull().default('system'),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [index('events_subject_idx').on(t.subject, t.at)],
);

/** Messages refused at a boundary: kept (size-capped) with the reason, never dropped silently. */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    source: text('source').notNull(),
    topic: text('topic'),
    deviceId: text('device_id'),
    code: text('code').notNull(),
    reason: text('reason').notNull(),
    raw: bytea('raw'),
    rawBytes: integer('raw_bytes').notNull(),
  },
  (t) => [index('dead_letters_at_idx').on(t.at)],
);
