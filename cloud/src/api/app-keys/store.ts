// App keys in the database: create (the key exists in clear only in the response), list, revoke,
// authenticate a presented key, and answer "may this origin call at all?" for CORS preflights,
// which carry no credentials and so cannot name their key.
import { EdgeloopError } from '@edgeloop/shared';
import { desc, eq, isNull } from 'drizzle-orm';
import { appKeys } from '../../db/schema.ts';
import { secretMatches } from '../auth/token-format.ts';
import type { ApiDatabase } from '../deps.ts';
import { generateAppKey, parseAppKey } from './key-format.ts';
import { originAllowed } from './origins.ts';
import { APP_KEY_SCOPES, type AppKeyGrant, type AppKeyScope } from './scopes.ts';

export type AppKeyRecord = typeof appKeys.$inferSelect;

/**
 * Preflights come for every cross-origin SDK call a browser has not cached yet; the union of
 * origins is read at most this often per process. A revoked key's origin may be answered a few
 * seconds longer, which grants nothing: the real request still authenticates the key.
 */
const ORIGINS_CACHE_MS = 5_000;

export interface CreateAppKey {
  name: string;
  allowedOrigins?: string[];
  scopes?: AppKeyScope[];
}

export class AppKeyStore {
  readonly #db: ApiDatabase;
  readonly #now: () => Date;
  #origins: { readAt: number; origins: Promise<string[]> } | undefined;

  constructor(db: ApiDatabase, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /** Creates a key; `key` in the result is the only time the secret exists outside the caller. */
  async create(input: CreateAppKey): Promise<{ key: string; record: AppKeyRecord }> {
    const { id, key, secretSha256 } = generateAppKey();
    const [record] = await this.#db
      .insert(appKeys)
      .values({
        id,
        name: input.name,
        secretSha256,
        allowedOrigins: [...new Set(input.allowedOrigins ?? [])],
        scopes: [...new Set(input.scopes ?? APP_KEY_SCOPES)],
      })
      .returning();
    this.#origins = undefined;
    return { key, record: record as AppKeyRecord };
  }

  async list(): Promise<AppKeyRecord[]> {
    return this.#db.select().from(appKeys).orderBy(desc(appKeys.createdAt), appKeys.id);
  }

  async find(id: string): Promise<AppKeyRecord | undefined> {
    const [row] = await this.#db.select().from(appKeys).where(eq(appKeys.id, id)).limit(1);
    return row;
  }

  async revoke(id: string): Promise<AppKeyRecord> {
    const existing = await this.find(id);
    if (!existing) throw new EdgeloopError('NOT_FOUND', `no app key with id ${id}`);
    if (existing.revokedAt) return existing; // the outcome holds: revoking twice is not an error
    const [row] = await this.#db
      .update(appKeys)
      .set({ revokedAt: this.#now() })
      .where(eq(appKeys.id, id))
      .returning();
    this.#origins = undefined;
    return row as AppKeyRecord;
  }

  /** The key's grant, or UNAUTHENTICATED (one answer for every wrong key) / TOKEN_REVOKED. */
  async authenticate(key: string): Promise<AppKeyGrant & { name: string }> {
    const parsed = parseAppKey(key);
    const invalid = () => new EdgeloopError('UNAUTHENTICATED', 'invalid app key');
    if (!parsed) throw invalid();
    const row = await this.find(parsed.id);
    if (!row || !secretMatches(parsed.secret, row.secretSha256)) throw invalid();
    if (row.revokedAt) throw new EdgeloopError('TOKEN_REVOKED', 'this app key has been revoked');
    return {
      id: row.id,
      name: row.name,
      scopes: row.scopes as AppKeyScope[],
      allowedOrigins: row.allowedOrigins,
    };
  }

  /** Whether any active key allows `origin`: the question a credential-less preflight can ask. */
  async anyKeyAllows(origin: string): Promise<boolean> {
    const now = Date.now();
    if (!this.#origins || now - this.#origins.readAt > ORIGINS_CACHE_MS) {
      const origins = this.#db
        .select({ allowedOrigins: appKeys.allowedOrigins })
        .from(appKeys)
        .where(isNull(appKeys.revokedAt))
        .then((rows) => rows.flatMap((r) => r.allowedOrigins));
      this.#origins = { readAt: now, origins };
      origins.catch(() => {
        this.#origins = undefined; // a failed read must not be cached
      });
    }
    return originAllowed(await this.#origins.origins, origin);
  }
}
