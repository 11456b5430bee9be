// The quick start's admin token: created on first start and kept in the data dir (mode 0600), so a
// second `edgeloop start` prints the same token and scripts written against it keep working.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatToken, generateToken, parseToken } from '../api/auth/token-format.ts';
import type { ApiTokenStore } from '../api/auth/token-store.ts';
import type { Logger } from '../log/index.ts';

export const ADMIN_TOKEN_FILE = 'admin-token';

export async function quickStartAdminToken(
  dataDir: string,
  tokens: ApiTokenStore,
  logger: Logger,
): Promise<string> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  const stored = (await readFile(file, 'utf8').catch(() => '')).trim();
  const token = parseToken(stored) ? stored : formatToken(generateToken());
  const outcome = await tokens.ensure(token, { name: 'quick-start admin', role: 'admin' });
  if (outcome === 'revoked') {
    // An operator revoked it on purpose: make a new one rather than resurrect it.
    logger.warn({ file }, 'the stored quick-start admin token was revoked; issuing a new one');
    const fresh = await tokens.create({ name: 'quick-start admin', role: 'admin' });
    await store(file, dataDir, fresh.token);
    return fresh.token;
  }
  if (token !== stored) await store(file, dataDir, token);
  return token;
}

async function store(file: string, dataDir: string, token: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
}
