import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';

// ── Fleet: devices, groups, credentials ─────────────────────────────────────────────────────────

export const deviceGroups = pgTable('device_groups', {
  name: text('name').primaryKey(),
  description: text('description').notNull().default(''),
  createdAt: createdAt(),
});

export const devices = pgTable(
  'devices',
  {
    id: text('id').primaryKey(),
    groupName: text('group_name').references(() => deviceGroups.name, { onDelete: 'set null' }),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    /** firmware-configs profile id. */
    deviceClass: text('device_class').notNull(),
    displayName: text('display_name').notNull().default(''),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** From the retained status topic. */
    connection: text('connection', { enum: ['unknown', 'online', 'offline'] })
      .notNull()
      .default('unknown'),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' }),
    bootId: text('boot_id'),
    agentVersion: text('agent_version'),
    /** Last valid ReportedState (shared contract), as received. */
    reported: jsonb('reported'),
    /** Last DesiredState published to the device, and its generation counter. */
    desired: jsonb('desired'),
    desiredGeneration: bigint('desired_generation', { mode: 'number' }).notNull().default(0),
  },
  (t) => [index('devices_group_idx').on(t.groupName), index('devices_class_idx').on(t.deviceClass)],
);

/**
 * MQTT credentials. Only a hash of the secret is kept, in Mosquitto's PBKDF2-SHA512 (`$7$`) format,
 * so the same hash can be written to a Mosquitto password file. Rotation adds a row and revokes the
 * previous one; history stays for audit.
 */
export const deviceCredentials = pgTable(
  'device_credentials',
  {
    id: serial('id').primaryKey(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('device_credentials_device_idx').on(t.deviceId)],
);

// ── Operator API tokens ─────────────────────────────────────────────────────────────────────────

/**
 * Bearer tokens for the operator API and CLI. The token is `el_<id>_<secret>`; only sha256(secret)
 * is stored (the secret is 32 random bytes, so a fast hash is enough).
 */
export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role', { enum: ['viewer', 'operator', 'admin'] }).notNull(),
  secretSha256: text('secret_sha256').notNull(),
  createdAt: createdAt(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
});
