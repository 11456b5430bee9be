import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';

// ── App keys for the web SDK (cloud/src/api/app-keys) ───────────────────────────────────────────

/**
 * Keys that browser and mobile apps embed to reach the SDK routes (resolve, artifacts, keys,
 * telemetry) and nothing else. The key is `app_<id>_<secret>`; only sha256(secret) is stored. An
 * app key ships inside a page, so it is public in practice: scopes and allowed origins limit what
 * a copied key can do, revocation ends it.
 */
export const appKeys = pgTable('app_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  secretSha256: text('secret_sha256').notNull(),
  /** Browser origins (`https://app.example.com`, or `*`) allowed to call with this key (CORS). */
  allowedOrigins: text('allowed_origins').array().notNull().default(sql`'{}'::text[]`),
  /** What the key may do (app-keys/scopes.ts). */
  scopes: text('scopes').array().notNull(),
  createdAt: createdAt(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
});
