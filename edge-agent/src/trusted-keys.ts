// Which Ed25519 keys the agent trusts to sign models. Given explicitly, they are used as they are.
// Otherwise they are fetched once from `GET {cloud}/api/v1/keys` at first start and pinned on disk
// (trust on first use): later starts use the pinned set and never ask again, so a cloud that is
// later impersonated cannot swap the keys under a running fleet.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError, publicKeySetSchema } from '@edgeloop/shared';
import { z } from 'zod';
import { isNotFound, writeFileAtomic } from './durable-fs.ts';
import { type TrustedKey, trustedKey } from './verify.ts';

export const PINNED_KEYS_FILE = 'trusted-keys.json';

const pinnedSchema = z.object({ v: z.literal(1), source: z.string(), keys: z.array(z.string()).min(1) });

export interface TrustedKeySource {
  trustedKeys: readonly string[];
  cloudUrl?: string | undefined;
  dataDir: string;
  fetchTimeoutMs?: number;
}

export interface ResolvedKeys {
  keys: TrustedKey[];
  source: 'config' | 'pinned' | 'cloud';
}

export async function resolveTrustedKeys(
  source: TrustedKeySource,
  fetchImpl: typeof fetch = fetch,
): Promise<ResolvedKeys> {
  if (source.trustedKeys.length > 0) {
    return { keys: source.trustedKeys.map((k) => trustedKey(k)), source: 'config' };
  }
  const path = join(source.dataDir, PINNED_KEYS_FILE);
  const pinned = await readPinned(path);
  if (pinned) return { keys: pinned.map((k) => trustedKey(k)), source: 'pinned' };
  if (!source.cloudUrl) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      'trustedKeys: no signing key to trust: give --trusted-key, or --cloud to fetch and pin the keys',
    );
  }
  const url = new URL('/api/v1/keys', source.cloudUrl).toString();
  let body: unknown;
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(source.fetchTimeoutMs ?? 10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch (err) {
    throw new EdgeloopError(
      'UNAVAILABLE',
      `cannot fetch signing keys from ${url}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const parsed = publicKeySetSchema.safeParse(body);
  if (!parsed.success) {
    throw new EdgeloopError('VALIDATION_FAILED', `${url} did not return a valid key set`, {
      cause: parsed.error,
    });
  }
  const keys = parsed.data.keys.map((k) => {
    const key = trustedKey(k.publicKey);
    // The keyId is derived from the key; a set whose ids disagree is not one we should pin.
    if (key.keyId !== k.keyId) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `key ${k.keyId} from ${url} does not match its public key`,
      );
    }
    return key;
  });
  await writeFileAtomic(
    path,
    JSON.stringify({ v: 1, source: url, keys: parsed.data.keys.map((k) => k.publicKey) }),
  );
  return { keys, source: 'cloud' };
}

async function readPinned(path: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  const parsed = pinnedSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    // Refetching would silently re-trust whatever answers now; a damaged pin needs a person.
    throw new EdgeloopError('VALIDATION_FAILED', `${path} is damaged: delete it to fetch the keys again`);
  }
  return parsed.data.keys;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
