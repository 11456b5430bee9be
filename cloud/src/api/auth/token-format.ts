// API tokens look like `el_<id>_<secret>`: the id finds the row without scanning, the secret is 32
// random bytes of which only sha256 is stored. A fast hash suffices because the secret is random,
// not a password; comparison is constant-time so timing says nothing about how much matched.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_TOKEN_PATTERN } from '../../config/schema.ts';

export interface ParsedToken {
  id: string;
  secret: string;
}

export function generateToken(): ParsedToken & { token: string } {
  const id = randomBytes(6).toString('hex'); // 12 chars of [0-9a-f], within the id alphabet
  const secret = randomBytes(32).toString('base64url'); // 43 chars
  return { id, secret, token: formatToken({ id, secret }) };
}

export function formatToken({ id, secret }: ParsedToken): string {
  return `el_${id}_${secret}`;
}

/** Null for anything not shaped like a token, so callers give one answer for all garbage. */
export function parseToken(token: string): ParsedToken | null {
  const match = API_TOKEN_PATTERN.exec(token);
  return match ? { id: match[1] as string, secret: match[2] as string } : null;
}

export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedSha256: string): boolean {
  const actual = Buffer.from(hashTokenSecret(secret), 'hex');
  const expected = Buffer.from(storedSha256, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
