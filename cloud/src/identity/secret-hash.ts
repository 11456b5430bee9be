import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { IdentityError } from './errors.ts';

const pbkdf2Async = promisify(pbkdf2);

/**
 * Device secrets are hashed in Mosquitto's own PBKDF2-SHA512 format (what `mosquitto_passwd` writes
 * since 2.0), so a stored hash can be copied verbatim into a Mosquitto password file:
 *
 *   $7$<iterations>$<base64 salt>$<base64 sha512-pbkdf2(secret, salt, iterations, 64 bytes)>
 *
 * Mosquitto decodes the salt from base64 before hashing and reads the iteration count from the line.
 */
const PREFIX = '$7$';
const SALT_BYTES = 12; // what mosquitto_passwd uses
const KEY_BYTES = 64;

/**
 * Secrets are 32 random bytes, so the iteration count is not what protects them (brute force is
 * hopeless either way); it is kept modest because Mosquitto runs it on every CONNECT. mosquitto_passwd
 * itself defaults to 101.
 */
export const DEFAULT_HASH_ITERATIONS = 1_000;

export async function hashSecret(secret: string, iterations = DEFAULT_HASH_ITERATIONS): Promise<string> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new IdentityError(
      'VALIDATION_FAILED',
      `hash iterations must be a positive integer, got ${iterations}`,
    );
  }
  const salt = randomBytes(SALT_BYTES);
  const key = await pbkdf2Async(secret, salt, iterations, KEY_BYTES, 'sha512');
  return `${PREFIX}${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  iterations: number;
  salt: Buffer;
  key: Buffer;
}

const HASH_PATTERN = /^\$7\$([1-9][0-9]{0,8})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export function parseSecretHash(hash: string): ParsedHash {
  const match = HASH_PATTERN.exec(hash);
  if (!match) {
    throw new IdentityError('VALIDATION_FAILED', 'not a Mosquitto $7$ PBKDF2-SHA512 hash');
  }
  const [, iterations = '', salt = '', key = ''] = match;
  return {
    iterations: Number(iterations),
    salt: Buffer.from(salt, 'base64'),
    key: Buffer.from(key, 'base64'),
  };
}

/** Constant-time check of a secret against a stored `$7$` hash. A malformed hash never verifies. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  let parsed: ParsedHash;
  try {
    parsed = parseSecretHash(hash);
  } catch {
    return false;
  }
  if (parsed.key.length !== KEY_BYTES) return false;
  const key = await pbkdf2Async(secret, parsed.salt, parsed.iterations, KEY_BYTES, 'sha512');
  return timingSafeEqual(key, parsed.key);
}

/** A fresh device secret: 32 random bytes, base64url (43 chars, safe in a password file and a URL). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
