import { createHash } from 'node:crypto';
import type { AuthOutcome } from './authenticator.ts';

/**
 * Remembers recent login verdicts for a short while: PBKDF2 is slow on purpose, and a fleet that
 * reconnects after a broker restart would otherwise spend seconds of CPU re-deriving the same keys.
 * Keys hold a sha256 of the password, never the password. Each device has a generation that any
 * credential change bumps, so a verdict computed before a revocation can never be stored after it.
 */
export class AuthCache {
  private readonly entries = new Map<string, { outcome: AuthOutcome; expiresAt: number }>();
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  generation(username: string): number {
    return this.generations.get(username) ?? 0;
  }

  get(username: string, password: string): AuthOutcome | undefined {
    const key = cacheKey(username, password);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.outcome;
  }

  /** Stores a verdict only if the device's credentials did not change since `generation` was read. */
  set(username: string, password: string, outcome: AuthOutcome, generation: number): boolean {
    if (this.ttlMs <= 0 || this.generation(username) !== generation) return false;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(cacheKey(username, password), { outcome, expiresAt: this.now() + this.ttlMs });
    return true;
  }

  /** Forgets every verdict about a user (any password) and fences in-flight checks. */
  invalidate(username: string): void {
    this.generations.set(username, this.generation(username) + 1);
    const prefix = `${username}\u0000`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

function cacheKey(username: string, password: string): string {
  return `${username}\u0000${createHash('sha256').update(password).digest('base64')}`;
}
