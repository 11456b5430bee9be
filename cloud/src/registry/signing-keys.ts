// The cloud's Ed25519 identity. Every manifest it registers is signed with this key; agents and the
// web SDK hold the public key and refuse anything it did not sign. The private key is generated on
// first start and kept in the data directory (PKCS#8 PEM, mode 0600); losing it means devices must
// be given a new public key, so it is never regenerated when it exists.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  EdgeloopError,
  type ModelManifest,
  manifestSigningBytes,
  type Signature,
  signatureSchema,
} from '@edgeloop/shared';

export const SIGNING_KEY_FILE = join('keys', 'ed25519.pem');

/** What the registry needs to sign: an interface so a KMS/HSM-backed signer can replace the file key. */
export interface ManifestSigner {
  readonly keyId: string;
  signManifest(manifest: ModelManifest): Promise<Signature>;
}

/** The public half as served by the API and pinned by devices. */
export interface PublicSigningKey {
  alg: 'ed25519';
  keyId: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
}

/** keyId as the shared `signatureSchema` defines it: first 16 hex of sha256(raw public key). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

function rawPublicKeyOf(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

export class SigningKeys implements ManifestSigner {
  readonly keyId: string;
  /** Raw 32-byte public key. */
  readonly publicKeyRaw: Uint8Array;
  readonly #privateKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `signing key must be Ed25519, got ${privateKey.asymmetricKeyType}`,
      );
    }
    this.#privateKey = privateKey;
    this.publicKeyRaw = rawPublicKeyOf(createPublicKey(privateKey));
    this.keyId = keyIdOf(this.publicKeyRaw);
  }

  /** A fresh key held only in memory (tests, throwaway demos). */
  static generate(): SigningKeys {
    return new SigningKeys(generateKeyPairSync('ed25519').privateKey);
  }

  static fromPem(pem: string): SigningKeys {
    return new SigningKeys(createPrivateKey(pem));
  }

  /**
   * Loads `<dataDir>/keys/ed25519.pem`, generating it on first start. Safe when several processes
   * start at once on one data directory: the key is written to a temp file and hard-linked into
   * place, which fails if another process got there first, and then that process's key is used.
   */
  static async loadOrCreate(
    dataDir: string,
    log?: { info(message: string): void; warn(message: string): void },
  ): Promise<SigningKeys> {
    const path = join(dataDir, SIGNING_KEY_FILE);
    const existing = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new EdgeloopError('UNAVAILABLE', `cannot read signing key ${path}: ${error.message}`, {
        cause: error,
      });
    });
    if (existing !== undefined) {
      const mode = (await stat(path)).mode & 0o777;
      if ((mode & 0o077) !== 0)
        log?.warn(`signing key ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
      try {
        return SigningKeys.fromPem(existing);
      } catch (cause) {
        throw new EdgeloopError('INTERNAL', `signing key ${path} is not a valid Ed25519 PKCS#8 PEM key`, {
          cause,
        });
      }
    }
    await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    const keys = SigningKeys.generate();
    const pem = keys.#privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    // Unique per call, not per process: two calls in one process must not share a temp file.
    const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, pem, { mode: 0o600, flush: true });
    await chmod(temp, 0o600); // the umask may have narrowed the mode further, never widened it; be exact
    try {
      await link(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await rm(temp, { force: true });
      return SigningKeys.loadOrCreate(dataDir, log); // another process won the race: use its key
    }
    await rm(temp, { force: true });
    log?.info(`signing: generated Ed25519 key ${keys.keyId} at ${path}`);
    return keys;
  }

  get publicKey(): PublicSigningKey {
    return {
      alg: 'ed25519',
      keyId: this.keyId,
      publicKey: Buffer.from(this.publicKeyRaw).toString('base64'),
    };
  }

  async signManifest(manifest: ModelManifest): Promise<Signature> {
    const value = sign(null, manifestSigningBytes(manifest), this.#privateKey);
    return signatureSchema.parse({ alg: 'ed25519', keyId: this.keyId, value: value.toString('base64') });
  }
}

/**
 * Checks a manifest's signature against a pinned raw public key, the way a device does: the key id
 * must match and the Ed25519 signature must cover `manifestSigningBytes(manifest)` exactly.
 */
export function verifyManifest(
  manifest: ModelManifest,
  signature: Signature,
  publicKeyRaw: Uint8Array,
): boolean {
  if (signature.alg !== 'ed25519' || signature.keyId !== keyIdOf(publicKeyRaw)) return false;
  const value = Buffer.from(signature.value, 'base64');
  if (value.length !== 64) return false;
  return verify(null, manifestSigningBytes(manifest), publicKeyFromRaw(publicKeyRaw), value);
}
