import { sql } from 'drizzle-orm';
import { bigserial, index, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { at } from './columns.ts';

// ── Alerts (cloud/src/alerts) ───────────────────────────────────────────────────────────────────

/**
 * A condition an on-call engineer should see: devices offline past a threshold, an error-rate spike,
 * a stuck rollout, drift. At most one open alert per `key` (partial unique index); an alert closes
 * when its condition clears (`resolved_at`).
 */
export const alerts = pgTable(
  'alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** Identity of the condition, e.g. `drift:digits:3:device_class:cam-arm64`. */
    key: text('key').notNull(),
    kind: text('kind', { enum: ['devices_offline', 'error_rate', 'rollout_stuck', 'drift'] }).notNull(),
    severity: text('severity', { enum: ['warning', 'critical'] }).notNull(),
    subject: text('subject').notNull(),
    message: text('message').notNull(),
    data: jsonb('data').notNull().default({}),
    openedAt: at('opened_at').notNull().defaultNow(),
    lastSeenAt: at('last_seen_at').notNull().defaultNow(),
    resolvedAt: at('resolved_at'),
  },
  (t) => [
    uniqueIndex('alerts_open_key_idx').on(t.key).where(sql`${t.resolvedAt} is null`),
    index('alerts_opened_idx').on(t.openedAt),
  ],
);
