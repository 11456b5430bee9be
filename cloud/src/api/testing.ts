// Test fixtures for the operator API: a real database, the real app, one token per role, a log
// capture and the rejection counter — so tests assert the envelope, the count, the log line and
// that the database did not change.
import { eq, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import * as schema from '../db/schema.ts';
import { DeviceRegistry } from '../identity/index.ts';
import { createLogger } from '../log/index.ts';
import { createApiApp } from './app.ts';
import type { Role } from './auth/roles.ts';
import { ApiTokenStore } from './auth/token-store.ts';
import type { ApiDatabase, ApiDeps } from './deps.ts';

/** The real device registry, with a cheap hash: tests are not about brute-force resistance. */
export function testIdentity(db: ApiDatabase): DeviceRegistry {
  return new DeviceRegistry({
    db,
    deviceClasses: async () => new Set(['simulated', 'raspberry-pi-4']),
    cloudAccount: { secret: 'test-cloud-secret-0123456789' },
    hashIterations: 1,
  });
}

export interface RequestOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as-is (no JSON encoding), for malformed-input tests. */
  raw?: string;
  headers?: Record<string, string>;
}

export async function createApiFixture(db: ApiDatabase, overrides: Partial<ApiDeps> = {}) {
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    sink: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const metrics = new Registry();
  const deps: ApiDeps = {
    db,
    identity: testIdentity(db),
    brokerUrls: { tcp: 'mqtt://127.0.0.1:1884' },
    readiness: {
      database: async () => {
        await db.execute(sql`select 1`);
      },
    },
    logger,
    metrics,
    bodyLimit: 16 * 1024,
    ...overrides,
  };
  const app = createApiApp(deps);
  const store = new ApiTokenStore(db);
  const issue = async (role: Role) => (await store.create({ name: `test-${role}`, role })).token;
  const tokens = {
    admin: await issue('admin'),
    operator: await issue('operator'),
    viewer: await issue('viewer'),
  };

  async function request(method: string, path: string, options: RequestOptions = {}) {
    const token = options.token === undefined ? tokens.admin : options.token;
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    if (body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(body));
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    const json = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
    return { status: res.status, headers: res.headers, text, json };
  }

  /** How often requests were rejected with `code`, per the Prometheus counter. */
  async function rejections(code: string): Promise<number> {
    const metric = await metrics.getSingleMetric('edgeloop_api_rejections_total')?.get();
    return metric?.values.find((v) => v.labels.code === code)?.value ?? 0;
  }

  return { app, deps, tokens, request, logs, rejections, tokenStore: store };
}

/**
 * Everything a rejected request must not change. api_tokens.last_used_at is left out on purpose:
 * it records that a valid token was presented, which stays true when the request is then refused.
 */
export async function snapshotDatabase(db: ApiDatabase) {
  const [devices, groups, credentials, tokens] = await Promise.all([
    db.select().from(schema.devices).orderBy(schema.devices.id),
    db.select().from(schema.deviceGroups).orderBy(schema.deviceGroups.name),
    db.select().from(schema.deviceCredentials).orderBy(schema.deviceCredentials.id),
    db
      .select({
        id: schema.apiTokens.id,
        name: schema.apiTokens.name,
        role: schema.apiTokens.role,
        revokedAt: schema.apiTokens.revokedAt,
        expiresAt: schema.apiTokens.expiresAt,
      })
      .from(schema.apiTokens)
      .orderBy(schema.apiTokens.id),
  ]);
  return { devices, groups, credentials, tokens };
}

export async function seedGroup(db: ApiDatabase, name: string) {
  await db.insert(schema.deviceGroups).values({ name }).onConflictDoNothing();
}

export async function setConnection(db: ApiDatabase, id: string, connection: 'online' | 'offline') {
  await db
    .update(schema.devices)
    .set({ connection, lastSeenAt: new Date() })
    .where(eq(schema.devices.id, id));
}
