// App keys look like `app_<id>_<secret>`: distinct from operator tokens (`el_…`) at a glance, so
// the authentication middleware knows which store to ask without a lookup, and a leaked key is
// recognisable as the public kind. The secret is 32 random bytes, stored as sha256 (token-format.ts).
import { randomBytes } from 'node:crypto';
import { hashTokenSecret, type ParsedToken } from '../auth/token-format.ts';

export const APP_KEY_PATTERN = /^app_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;

export function isAppKeyShaped(token: string): boolean {
  return token.startsWith('app_');
}

export function generateAppKey(): ParsedToken & { key: string; secretSha256: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, key: `app_${id}_${secret}`, secretSha256: hashTokenSecret(secret) };
}

export function parseAppKey(key: string): ParsedToken | null {
  const match = APP_KEY_PATTERN.exec(key);
  return match ? { id: match[1] as string, secret: match[2] as string } : null;
}
