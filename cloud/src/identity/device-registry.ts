import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { loadProfiles } from '@edgeloop/firmware-configs';
import { deviceIdSchema, isDeviceId } from '@edgeloop/shared';
import { and, desc, eq, isNotNull, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, sqlState } from '../db/index.ts';
import { deviceCredentials, deviceGroups, devices, events } from '../db/schema.ts';
import { AuthCache } from './auth-cache.ts';
import type { AuthOutcome, BrokerAuthenticator } from './authenticator.ts';
import { IdentityError } from './errors.ts';
import { CLOUD_USERNAME, cloudPrincipal, devicePrincipal } from './principal.ts';
import { DEFAULT_HASH_ITERATIONS, generateSecret, hashSecret, verifySecret } from './secret-hash.ts';

export const provisionInputSchema = z.object({
  id: deviceIdSchema.optional(),
  group: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'group must be 1-64 of [A-Za-z0-9_.-]')
    .optional(),
  tags: z
    .array(z.string().regex(/^[A-Za-z0-9_.:=-]{1,64}$/, 'tags are 1-64 of [A-Za-z0-9_.:=-]'))
    .max(32)
    .default([]),
  deviceClass: z.string().min(1).max(64),
  displayName: z.string().max(200).optional(),
});
export type ProvisionInput = z.input<typeof provisionInputSchema>;

export interface DeviceRecord {
  id: string;
  group: string | null;
  tags: string[];
  deviceClass: string;
  displayName: string;
  createdAt: Date;
}

/** Returned once, at provisioning or rotation: the secret is not stored anywhere in clear. */
export interface DeviceCredentialsSecret {
  username: string;
  password: string;
}

export interface DeviceRegistryOptions {
  db: Db;
  /** Known device classes (firmware-configs profile ids); provisioning refuses any other. */
  deviceClasses: () => Promise<ReadonlySet<string>>;
  /** The cloud service account; its secret comes from config. */
  cloudAccount: { username?: string; secret: string };
  hashIterations?: number;
  /** How long a login verdict is reused (default 30 s). Revocation clears it at once in this process. */
  authCacheTtlMs?: number;
  now?: () => number;
}

/**
 * Device identity: provisioning, one-time credentials, rotation, revocation, and the login check the
 * broker runs on every CONNECT. Secrets are hashed in Mosquitto's `$7$` format so the same rows can
 * be exported to an external broker's password file (`passwordEntries`).
 */
export class DeviceRegistry implements BrokerAuthenticator {
  private readonly db: Db;
  private readonly cache: AuthCache;
  private readonly revocations = new EventEmitter();
  private readonly cloudUsername: string;
  private readonly cloudSecretDigest: Buffer;

  constructor(private readonly options: DeviceRegistryOptions) {
    this.db = options.db;
    this.cloudUsername = options.cloudAccount.username ?? CLOUD_USERNAME;
    if (options.cloudAccount.secret.length < 16) {
      throw new IdentityError('VALIDATION_FAILED', 'cloud MQTT secret must be at least 16 characters');
    }
    this.cloudSecretDigest = sha256(options.cloudAccount.secret);
    this.cache = new AuthCache(options.authCacheTtlMs ?? 30_000, 10_000, options.now ?? Date.now);
  }

  async provisionDevice(
    input: ProvisionInput,
    actor = 'system',
  ): Promise<{
    device: DeviceRecord;
    credentials: DeviceCredentialsSecret;
  }> {
    const parsed = provisionInputSchema.safeParse(input);
    if (!parsed.success) {
      throw new IdentityError(
        'VALIDATION_FAILED',
        `invalid device: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        { details: parsed.error.issues },
      );
    }
    const { group, tags, deviceClass, displayName } = parsed.data;
    const id = parsed.data.id ?? newDeviceId();
    if (id === this.cloudUsername) {
      throw new IdentityError('CONFLICT', `device id ${id} is reserved for the cloud service account`);
    }
    const classes = await this.options.deviceClasses();
    if (!classes.has(deviceClass)) {
      throw new IdentityError(
        'VALIDATION_FAILED',
        `unknown device class ${JSON.stringify(deviceClass)}; known: ${[...classes].sort().join(', ')}`,
      );
    }
    const password = generateSecret();
    const secretHash = await this.hash(password);
    const row = await this.db
      .transaction(async (tx) => {
        const existing = await tx.select({ id: devices.id }).from(devices).where(eq(devices.id, id));
        if (existing.length > 0) throw new IdentityError('CONFLICT', `device ${id} already exists`);
        if (group !== undefined) await tx.insert(deviceGroups).values({ name: group }).onConflictDoNothing();
        const [device] = await tx
          .insert(devices)
          .values({ id, groupName: group ?? null, tags, deviceClass, displayName: displayName ?? '' })
          .returning();
        await tx.insert(deviceCredentials).values({ deviceId: id, secretHash });
        await tx.insert(events).values({
          kind: 'device.provisioned',
          subject: `device:${id}`,
          actor,
          data: { group: group ?? null, deviceClass, tags },
        });
        return device;
      })
      .catch((err: unknown) => {
        if (err instanceof IdentityError) throw err;
        if (isUniqueViolation(err))
          throw new IdentityError('CONFLICT', `device ${id} already exists`, { cause: err });
        throw err;
      });
    if (!row) throw new IdentityError('INTERNAL', `device ${id} was not stored`);
    this.cache.invalidate(id); // a verdict cached for an earlier device of the same id is void
    return { device: toRecord(row), credentials: { username: id, password } };
  }

  /** Issues a new secret and revokes the old one; live sessions on the old secret are closed. */
  async rotateCredentials(deviceId: string, actor = 'system'): Promise<DeviceCredentialsSecret> {
    const password = generateSecret();
    const secretHash = await this.hash(password);
    await this.db.transaction(async (tx) => {
      await this.requireDevice(tx, deviceId);
      await tx
        .update(deviceCredentials)
        .set({ revokedAt: new Date() })
        .where(and(eq(deviceCredentials.deviceId, deviceId), isNull(deviceCredentials.revokedAt)));
      await tx.insert(deviceCredentials).values({ deviceId, secretHash });
      await tx
        .insert(events)
        .values({ kind: 'device.credentials_rotated', subject: `device:${deviceId}`, actor });
    });
    this.revoked(deviceId);
    return { username: deviceId, password };
  }

  /** Revokes every active secret of a device; it cannot log in again until rotated. Idempotent. */
  async revokeCredentials(deviceId: string, actor = 'system'): Promise<{ revoked: number }> {
    const revoked = await this.db.transaction(async (tx) => {
      await this.requireDevice(tx, deviceId);
      const rows = await tx
        .update(deviceCredentials)
        .set({ revokedAt: new Date() })
        .where(and(eq(deviceCredentials.deviceId, deviceId), isNull(deviceCredentials.revokedAt)))
        .returning({ id: deviceCredentials.id });
      await tx.insert(events).values({
        kind: 'device.credentials_revoked',
        subject: `device:${deviceId}`,
        actor,
        data: { revoked: rows.length },
      });
      return rows.length;
    });
    this.revoked(deviceId);
    return { revoked };
  }

  /** The broker's login check. Never throws for bad input; database failures do throw. */
  async authenticate(username: string | undefined, password: string | undefined): Promise<AuthOutcome> {
    if (!username || password === undefined || password.length === 0) {
      return { ok: false, code: 'UNAUTHENTICATED', reason: 'username and password are required' };
    }
    if (username === this.cloudUsername) {
      return timingSafeEqual(sha256(password), this.cloudSecretDigest)
        ? { ok: true, principal: cloudPrincipal(this.cloudUsername) }
        : { ok: false, code: 'UNAUTHENTICATED', reason: 'wrong secret for the cloud account' };
    }
    if (!isDeviceId(username)) return { ok: false, code: 'UNAUTHENTICATED', reason: 'not a device id' };
    const cached = this.cache.get(username, password);
    if (cached) return cached;
    const generation = this.cache.generation(username);
    const outcome = await this.verifyDevice(username, password);
    // A revocation that landed while we were hashing wins: check again against fresh rows.
    if (!this.cache.set(username, password, outcome, generation))
      return this.verifyDevice(username, password);
    return outcome;
  }

  /** Same as `authenticate`, under the name the API layer uses. */
  authenticateDevice(username: string, password: string): Promise<AuthOutcome> {
    return this.authenticate(username, password);
  }

  onRevoked(listener: (deviceId: string) => void): () => void {
    this.revocations.on('revoked', listener);
    return () => this.revocations.off('revoked', listener);
  }

  /** Active credentials plus the cloud account, for a Mosquitto password file. */
  async passwordEntries(): Promise<Array<{ username: string; secretHash: string }>> {
    const rows = await this.db
      .select({ username: deviceCredentials.deviceId, secretHash: deviceCredentials.secretHash })
      .from(deviceCredentials)
      .where(isNull(deviceCredentials.revokedAt))
      .orderBy(deviceCredentials.deviceId, desc(deviceCredentials.id));
    const latest = new Map<string, string>();
    for (const row of rows) if (!latest.has(row.username)) latest.set(row.username, row.secretHash);
    return [
      { username: this.cloudUsername, secretHash: await this.hash(this.options.cloudAccount.secret) },
      ...[...latest].map(([username, secretHash]) => ({ username, secretHash })),
    ];
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const [row] = await this.db.select().from(devices).where(eq(devices.id, deviceId));
    return row && toRecord(row);
  }

  private async verifyDevice(deviceId: string, password: string): Promise<AuthOutcome> {
    const active = await this.db
      .select({ secretHash: deviceCredentials.secretHash })
      .from(deviceCredentials)
      .where(and(eq(deviceCredentials.deviceId, deviceId), isNull(deviceCredentials.revokedAt)));
    for (const { secretHash } of active) {
      if (await verifySecret(password, secretHash)) return { ok: true, principal: devicePrincipal(deviceId) };
    }
    // Tell a device with a revoked secret that it was revoked (so it stops retrying and an operator
    // sees why), but only if it proves it held that secret: otherwise this would leak which ids exist.
    const recent = await this.db
      .select({ secretHash: deviceCredentials.secretHash })
      .from(deviceCredentials)
      .where(and(eq(deviceCredentials.deviceId, deviceId), isNotNull(deviceCredentials.revokedAt)))
      .orderBy(desc(deviceCredentials.id))
      .limit(3);
    for (const { secretHash } of recent) {
      if (await verifySecret(password, secretHash)) {
        return { ok: false, code: 'TOKEN_REVOKED', reason: `credentials of device ${deviceId} were revoked` };
      }
    }
    return { ok: false, code: 'UNAUTHENTICATED', reason: 'unknown device or wrong secret' };
  }

  private async requireDevice(tx: Pick<Db, 'select'>, deviceId: string): Promise<void> {
    const rows = await tx.select({ id: devices.id }).from(devices).where(eq(devices.id, deviceId));
    if (rows.length === 0) throw new IdentityError('NOT_FOUND', `device ${deviceId} does not exist`);
  }

  private revoked(deviceId: string): void {
    this.cache.invalidate(deviceId);
    this.revocations.emit('revoked', deviceId);
  }

  private hash(secret: string): Promise<string> {
    return hashSecret(secret, this.options.hashIterations ?? DEFAULT_HASH_ITERATIONS);
  }
}

function toRecord(row: typeof devices.$inferSelect): DeviceRecord {
  return {
    id: row.id,
    group: row.groupName,
    tags: row.tags,
    deviceClass: row.deviceClass,
    displayName: row.displayName,
    createdAt: row.createdAt,
  };
}

/** `dev-` + 12 base32 characters (60 random bits): readable, topic-safe, matches the id pattern. */
function newDeviceId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `dev-${[...randomBytes(12)].map((b) => alphabet[b & 31]).join('')}`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505';
}

/** Device classes from firmware-configs (loaded once): the default `deviceClasses` source. */
export function firmwareDeviceClasses(dir?: string): () => Promise<ReadonlySet<string>> {
  let loaded: Promise<ReadonlySet<string>> | undefined;
  return () => {
    loaded ??= loadProfiles(dir).then(
      (profiles) => new Set(profiles.keys()),
      (err: unknown) => {
        loaded = undefined; // a broken profile file can be fixed without a restart
        throw err;
      },
    );
    return loaded;
  };
}
