// API tokens in the database: issue, list, revoke, and authenticate a presented bearer token.
import { EdgeloopError } from '@edgeloop/shared';
import { desc, eq } from 'drizzle-orm';
import { apiTokens } from '../../db/schema.ts';
import type { ApiDatabase, Principal } from '../deps.ts';
import type { Role } from './roles.ts';
import { generateToken, hashTokenSecret, parseToken, secretMatches } from './token-format.ts';

export type ApiTokenRecord = typeof apiTokens.$inferSelect;

/**
 * `last_used_at` is an audit hint, not a log: writing it on every request would double the cost of
 * a read. Once a minute per token (per process) is enough to answer "is this token still in use?".
 */
const LAST_USED_RESOLUTION_MS = 60_000;

export class ApiTokenStore {
  readonly #db: ApiDatabase;
  readonly #now: () => Date;
  readonly #lastUsedWrites = new Map<string, number>();

  constructor(db: ApiDatabase, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /** Issues a token. The returned `token` is the only time the secret exists outside the caller. */
  async create(input: { name: string; role: Role; expiresAt?: Date | null }) {
    const { id, secret, token } = generateToken();
    const [record] = await this.#db
      .insert(apiTokens)
      .values({
        id,
        name: input.name,
        role: input.role,
        secretSha256: hashTokenSecret(secret),
        expiresAt: input.expiresAt ?? null,
      })
      .returning();
    return { token, record: record as ApiTokenRecord };
  }

  /**
   * Makes sure a token given in configuration (or kept by the quick start) exists. A token that was
   * revoked stays revoked: restarting with the same setting must not undo an operator's decision.
   */
  async ensure(
    token: string,
    input: { name: string; role: Role },
  ): Promise<'created' | 'exists' | 'revoked'> {
    const parsed = parseToken(token);
    if (!parsed) throw new EdgeloopError('VALIDATION_FAILED', 'token is not of the form el_<id>_<secret>');
    const inserted = await this.#db
      .insert(apiTokens)
      .values({
        id: parsed.id,
        name: input.name,
        role: input.role,
        secretSha256: hashTokenSecret(parsed.secret),
      })
      .onConflictDoNothing()
      .returning({ id: apiTokens.id });
    if (inserted.length > 0) return 'created';
    const existing = await this.find(parsed.id);
    if (!existing || !secretMatches(parsed.secret, existing.secretSha256)) {
      throw new EdgeloopError('CONFLICT', `a different token with id ${parsed.id} already exists`);
    }
    return existing.revokedAt ? 'revoked' : 'exists';
  }

  async list(): Promise<ApiTokenRecord[]> {
    return this.#db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt), apiTokens.id);
  }

  async find(id: string): Promise<ApiTokenRecord | undefined> {
    const [row] = await this.#db.select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
    return row;
  }

  async revoke(id: string): Promise<ApiTokenRecord> {
    const existing = await this.find(id);
    if (!existing) throw new EdgeloopError('NOT_FOUND', `no token with id ${id}`);
    if (existing.revokedAt) return existing; // revoking twice is not an error: the outcome holds
    const [row] = await this.#db
      .update(apiTokens)
      .set({ revokedAt: this.#now() })
      .where(eq(apiTokens.id, id))
      .returning();
    return row as ApiTokenRecord;
  }

  /** Resolves a bearer token to its principal, or throws UNAUTHENTICATED / TOKEN_REVOKED. */
  async authenticate(token: string): Promise<Principal> {
    const parsed = parseToken(token);
    // One message for every unknown or wrong token, so probing learns nothing about which ids exist.
    const invalid = () => new EdgeloopError('UNAUTHENTICATED', 'invalid API token');
    if (!parsed) throw invalid();
    const row = await this.find(parsed.id);
    if (!row || !secretMatches(parsed.secret, row.secretSha256)) throw invalid();
    if (row.revokedAt) throw new EdgeloopError('TOKEN_REVOKED', 'this API token has been revoked');
    const now = this.#now();
    if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) {
      throw new EdgeloopError('UNAUTHENTICATED', 'this API token has expired');
    }
    await this.#touch(row, now);
    return { tokenId: row.id, name: row.name, role: row.role };
  }

  async #touch(row: ApiTokenRecord, now: Date): Promise<void> {
    const last = this.#lastUsedWrites.get(row.id) ?? row.lastUsedAt?.getTime() ?? 0;
    if (now.getTime() - last < LAST_USED_RESOLUTION_MS) return;
    this.#lastUsedWrites.set(row.id, now.getTime());
    await this.#db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
  }
}
